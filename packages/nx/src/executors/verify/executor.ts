import { existsSync } from 'node:fs';
import { relative } from 'node:path';
import type { ExecutorContext } from '@nx/devkit';
import { formatVerifyText, parseBudget, verifySplit } from '@klp-split/runtime-sim';
import { UsageError } from '../../cli/exit-codes.js';
import { writeReportFile } from '../../cli/report-file.js';
import { installedKernel } from '@klp-split/kernel-facts';
import { runExecutor, shownPath, workspacePath, type ExecutorResult } from '../executor-run.js';

/** Options of @klp-split/nx:verify (documented in schema.json). */
interface VerifyExecutorOptions {
  path: string;
  targets: string[];
  format?: 'text' | 'json';
  report?: string;
  /** false: --no-explore. */
  explore?: boolean;
  budget?: string;
  /** Other built split livepatches the model check loads too (--also). */
  also?: string[];
  /** Tasks that never reach a safe point, `object:function` (--sleeping). */
  sleeping?: string[];
  counterexamples?: string;
  /** An installed kernel release (klp-split kernel add): its kallsyms dump is vmlinux. */
  kernel?: string;
  kallsyms?: string;
}

/** The simulator's verification of built split modules: the function `klp-split verify` calls. */
export default async function verifyExecutor(options: VerifyExecutorOptions, context: ExecutorContext): Promise<ExecutorResult> {
  return runExecutor('verify', (io) => {
    const targets = options.targets.map((t) => workspacePath(context, t));
    for (const t of targets) if (!existsSync(t)) throw new UsageError(`verify: target module ${shownPath(t)} does not exist`);
    let kallsyms = options.kallsyms && workspacePath(context, options.kallsyms);
    if (options.kernel) {
      const k = installedKernel(options.kernel);
      if (!k.kallsyms) throw new UsageError(`verify: kernel ${k.release} has no kallsyms dump`, `run 'klp-split kernel add ${k.release}'`);
      kallsyms = k.kallsyms;
    }
    if (kallsyms && !existsSync(kallsyms)) throw new UsageError(`verify: kallsyms dump ${shownPath(kallsyms)} does not exist`);
    const budget = options.budget === undefined ? undefined : parseBudget(options.budget);
    if (typeof budget === 'string') throw new UsageError(`verify: ${budget}`);
    const report = verifySplit(workspacePath(context, options.path), {
      targets,
      kallsyms,
      onProgress: io.progress,
      noExplore: options.explore === false,
      budget,
      also: options.also?.map((a) => workspacePath(context, a)),
      sleeping: options.sleeping,
      counterexamples: options.counterexamples && workspacePath(context, options.counterexamples),
    });
    // Nx caches the report and restores it in other clones: the directory relative to the workspace, not this clone's path.
    const json = `${JSON.stringify({ ...report, dir: relative(context.root, report.dir) || '.' }, null, 2)}\n`;
    if (options.report) writeReportFile(workspacePath(context, options.report), json, 'verify report');
    io.out(options.format === 'json' ? json : formatVerifyText(report));
    return report.ok;
  });
}

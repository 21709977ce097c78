import type { ExecutorContext } from '@nx/devkit';
import { builtParts, withWriteTransaction, hasErrors, MANIFEST_FILE } from '@klp-split/core';
import { previousGenerated, splitFile, splitOutputBytes } from '@klp-split/splitter';
import { printDiagnostics } from '../../cli/output.js';
import { kernelIncludeDirs, splitKernelTree } from '../../cli/split-command.js';
import { symbolFacts } from '../../cli/split-facts.js';
import { runExecutor, shownPath, workspacePath, type ExecutorResult } from '../executor-run.js';

/** Options of @klp-split/nx:split (documented in schema.json). */
interface SplitExecutorOptions {
  source: string;
  outputPath: string;
  kdir?: string;
  kernel?: string;
  allIncludes?: boolean;
  targets?: string[];
  kallsyms?: string;
}

/** One livepatch into its per-object modules, written through the write layer: what `klp-split split` does. */
export default async function splitExecutor(options: SplitExecutorOptions, context: ExecutorContext): Promise<ExecutorResult> {
  return runExecutor('split', (io) => {
    const source = workspacePath(context, options.source);
    const out = workspacePath(context, options.outputPath);
    const tree = splitKernelTree({ kernel: options.kernel, kdir: options.kdir && workspacePath(context, options.kdir) });
    const facts = symbolFacts('split', tree, (options.targets ?? []).map((t) => workspacePath(context, t)), options.kallsyms && workspacePath(context, options.kallsyms));
    const result = splitFile(source, { includeDirs: options.allIncludes ? [] : kernelIncludeDirs(tree), facts });
    const ok = (result.kind === 'split' || result.kind === 'already-split') && !hasErrors(result.diagnostics);
    if (result.kind === 'split' && ok) {
      const files = splitOutputBytes(result.files, result.manifest!, MANIFEST_FILE);
      const report = withWriteTransaction(out, (tx) => {
        if (tx.recovered === 'old-scheme') {
          result.diagnostics.push({ file: shownPath(out), line: 0, col: 0, severity: 'warning', code: 'interrupted-old-write', message: 'removed temporary files of an interrupted write by an older klp-split' });
        }
        return tx.commit({ files, previous: previousGenerated(out, MANIFEST_FILE), force: false });
      });
      printDiagnostics(io, result.diagnostics);
      const parts = builtParts(result.manifest!);
      io.out(`split ${shownPath(source)}: ${parts.length} module${parts.length === 1 ? '' : 's'} (${parts.map((p) => p.module).join(', ')}) in ${shownPath(out)}`);
      for (const name of result.files.keys()) io.out(`  ${report.written.includes(name) ? 'wrote    ' : 'unchanged'} ${name}`);
      for (const name of report.removed) io.out(`  removed   ${name}`);
    } else {
      printDiagnostics(io, result.diagnostics);
    }
    return ok;
  });
}

import { copyFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ExecutorContext } from '@nx/devkit';
import { buildModules, buildSplit, buildTree } from '@klp-split/kbuild-gen';
import { MANIFEST_FILE } from '@klp-split/core';
import { printDiagnostics } from '../../cli/output.js';
import { UsageError } from '../../cli/exit-codes.js';
import { discoverKernelTree } from '@klp-split/kernel-facts';
import { runExecutor, shownPath, workspacePath, type ExecutorResult } from '../executor-run.js';

/** Options of @klp-split/nx:build (documented in schema.json). */
interface BuildExecutorOptions {
  path: string;
  kdir?: string;
  /** An installed kernel release (klp-split kernel add): its headers are the tree. */
  kernel?: string;
  /** Build a copy of the module's sources there (one directory per kernel) instead of in place. */
  outputPath?: string;
  jobs?: number;
  config?: Record<string, string>;
}

/** Kbuild's inputs of a module directory: its sources, headers and own Kbuild/Makefile (not kbuild's products). */
const MODULE_INPUT = /^(?!.*\.mod\.c$).*\.[ch]$|^(Kbuild|Makefile)$/;

/** Copies a module directory's sources into `to` (replacing what an earlier build copied), for a build per kernel. */
function copySources(from: string, to: string): string {
  mkdirSync(to, { recursive: true });
  for (const f of readdirSync(to)) if (MODULE_INPUT.test(f)) rmSync(join(to, f), { force: true });
  for (const e of readdirSync(from, { withFileTypes: true })) if (e.isFile() && MODULE_INPUT.test(e.name)) copyFileSync(join(from, e.name), join(to, e.name));
  return to;
}

/** kbuild on split modules, a converted directory or target modules: the functions `klp-split build` calls. */
export default async function buildExecutor(options: BuildExecutorOptions, context: ExecutorContext): Promise<ExecutorResult> {
  return runExecutor('build', async (io) => {
    const dir = options.outputPath ? copySources(workspacePath(context, options.path), workspacePath(context, options.outputPath)) : workspacePath(context, options.path);
    const shown = shownPath(dir);
    const opts = {
      jobs: options.jobs,
      makeVars: options.config ?? {},
      onLine: (line: string) => {
        const m = /^\s+LD \[M\]\s+(\S+\.ko)$/.exec(line);
        if (m) io.progress(`built ${m[1]!.replace(/^.*\//, '')}`);
      },
    };
    const entries = readdirSync(dir);
    const sources = entries.filter((f) => f.endsWith('.c') && !f.endsWith('.mod.c')).sort();
    const isSplit = entries.includes(MANIFEST_FILE);
    if (!isSplit && sources.length === 0) throw new UsageError(`build: ${shown} has neither ${MANIFEST_FILE} nor .c files`);
    const tree = discoverKernelTree({ kernel: options.kernel, kdir: options.kdir && workspacePath(context, options.kdir) });
    const result = isSplit
      ? await buildSplit(dir, tree, opts)
      : entries.some((f) => f.endsWith(`.${MANIFEST_FILE}`))
        ? await buildTree(dir, tree, opts)
        : await buildModules(dir, sources, tree, opts);
    printDiagnostics(io, result.diagnostics);
    if (!result.ok && !result.diagnostics.some((d) => d.code.startsWith('cc-') || d.code.startsWith('-W') || d.code === 'modpost')) io.err(result.output);
    io.out(result.ok ? `build ${shown}: ${result.modules.length} module${result.modules.length === 1 ? '' : 's'} against ${result.tree.release} (${result.tree.dir})` : `build ${shown}: FAILED`);
    return result.ok;
  });
}

import type { ExecutorContext } from '@nx/devkit';
import { opt, runCli, workspacePath, type ExecutorResult } from '../run-cli.js';

/** Options of @klp-split/nx:split (documented in schema.json). */
export interface SplitExecutorOptions {
  source: string;
  outputPath: string;
  kdir?: string;
  allIncludes?: boolean;
}

/** `klp-split split <source> --out <outputPath>`: one livepatch into its per-object modules. */
export default async function splitExecutor(options: SplitExecutorOptions, context: ExecutorContext): Promise<ExecutorResult> {
  return runCli('split', [
    ...opt('out', workspacePath(context, options.outputPath)),
    ...opt('kdir', options.kdir && workspacePath(context, options.kdir)),
    ...(options.allIncludes ? ['--all-includes'] : []),
    '--',
    workspacePath(context, options.source),
  ]);
}

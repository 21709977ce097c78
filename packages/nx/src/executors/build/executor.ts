import type { ExecutorContext } from '@nx/devkit';
import { opt, runCli, workspacePath, type ExecutorResult } from '../run-cli.js';

/** Options of @klp-split/nx:build (documented in schema.json). */
export interface BuildExecutorOptions {
  path: string;
  kdir?: string;
  jobs?: number;
  config?: Record<string, string>;
}

/** `klp-split build <path>`: split modules, a converted directory or target modules, with kbuild. */
export default async function buildExecutor(options: BuildExecutorOptions, context: ExecutorContext): Promise<ExecutorResult> {
  return runCli('build', [
    ...opt('kdir', options.kdir && workspacePath(context, options.kdir)),
    ...opt('jobs', options.jobs),
    ...Object.entries(options.config ?? {}).flatMap(([k, v]) => opt('config', `${k}=${v}`)),
    '--',
    workspacePath(context, options.path),
  ]);
}

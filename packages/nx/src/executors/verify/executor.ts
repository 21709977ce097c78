import type { ExecutorContext } from '@nx/devkit';
import { opt, runCli, workspacePath, type ExecutorResult } from '../run-cli.js';

/** Options of @klp-split/nx:verify (documented in schema.json). */
export interface VerifyExecutorOptions {
  path: string;
  targets: string[];
  format?: 'text' | 'json';
  report?: string;
  /** false: --no-explore. */
  explore?: boolean;
  budget?: string;
  counterexamples?: string;
}

/** `klp-split verify <path> --target <ko>...`: check the built modules and simulate loading them. */
export default async function verifyExecutor(options: VerifyExecutorOptions, context: ExecutorContext): Promise<ExecutorResult> {
  return runCli('verify', [
    ...options.targets.flatMap((t) => opt('target', workspacePath(context, t))),
    ...opt('format', options.format),
    ...opt('report', options.report && workspacePath(context, options.report)),
    ...(options.explore === false ? ['--no-explore'] : []),
    ...opt('budget', options.budget),
    ...opt('counterexamples', options.counterexamples && workspacePath(context, options.counterexamples)),
    '--',
    workspacePath(context, options.path),
  ]);
}

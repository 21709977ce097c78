import { isAbsolute, relative, resolve } from 'node:path';
import type { ExecutorContext } from '@nx/devkit';
import { main } from '../cli/main.js';
import { EXIT_OK } from '../cli/exit-codes.js';
import { defaultIo, isCi } from '../cli/output.js';

export interface ExecutorResult {
  success: boolean;
}

/**
 * Runs one klp-split command in-process. Executors go through the CLI's own
 * entry point so that checks, messages and exit status are exactly those of
 * `klp-split <command>` (and of the command targets the executors replace).
 */
export async function runCli(command: string, argv: string[]): Promise<ExecutorResult> {
  const code = await main([command, ...argv], defaultIo(isCi()));
  return { success: code === EXIT_OK };
}

/**
 * A path option as the CLI should see it. Options are workspace-relative
 * (like the former command targets, which ran from the workspace root);
 * resolving against context.root keeps them right whatever Nx's cwd is,
 * and a relative result keeps the CLI's messages as short as before.
 */
export function workspacePath(context: ExecutorContext, path: string): string {
  const abs = resolve(context.root, path);
  const rel = relative(process.cwd(), abs);
  return rel === '' ? '.' : rel.startsWith('..') || isAbsolute(rel) ? abs : rel;
}

/**
 * `--name=value` rather than `--name value`: a value starting with '-' must
 * not be read as an option.
 */
export function opt(name: string, value: string | number | undefined): string[] {
  return value === undefined ? [] : [`--${name}=${value}`];
}

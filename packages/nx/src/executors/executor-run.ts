import { isAbsolute, relative, resolve } from 'node:path';
import type { ExecutorContext } from '@nx/devkit';
import { formatThrown } from '@klp-split/core';
import { defaultIo, isCi, type Io } from '../cli/output.js';

export interface ExecutorResult {
  success: boolean;
}

/**
 * Runs one executor's work with the packages' functions (no command line in
 * between) and Nx's verdict from its result. Every failure is one diagnostic
 * in the task's output, never an exception Nx would print as a stack.
 */
export async function runExecutor(command: string, work: (io: Io) => Promise<boolean> | boolean): Promise<ExecutorResult> {
  const io = defaultIo(isCi());
  try {
    return { success: await work(io) };
  } catch (e) {
    io.err(formatThrown(e, { debug: process.env.KLP_SPLIT_DEBUG === '1' }));
    return { success: false };
  }
}

/**
 * A workspace-relative option as an absolute path (right whatever Nx's cwd
 * is), and the same path as messages show it: relative to the cwd when inside it.
 */
export function workspacePath(context: ExecutorContext, path: string): string {
  return resolve(context.root, path);
}

export function shownPath(abs: string): string {
  const rel = relative(process.cwd(), abs);
  return rel === '' ? '.' : rel.startsWith('..') || isAbsolute(rel) ? abs : rel;
}

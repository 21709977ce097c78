import { isAbsolute, relative, resolve } from 'node:path';
import type { ExecutorContext } from '@nx/devkit';
import { formatThrown } from '@klp-split/core';
import { BuildSetupError, KernelTreeError, OverlayError } from '@klp-split/kbuild-gen';
import { LayoutError, VerifyError } from '@klp-split/runtime-sim';
import { ElfError, KallsymsError, SymversError } from '@klp-split/kernel-facts';
import { UsageError } from '../cli/exit-codes.js';
import { defaultIo, isCi, type Io } from '../cli/output.js';

export interface ExecutorResult {
  success: boolean;
}

/** Errors of bad input or environment from the packages: a one-line diagnostic, as the CLI prints them. */
const INPUT_ERRORS = [KernelTreeError, BuildSetupError, OverlayError, VerifyError, LayoutError, SymversError, ElfError, KallsymsError];

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
    const known = INPUT_ERRORS.some((k) => e instanceof k) ? new UsageError(`${command}: ${(e as Error).message}`) : e;
    io.err(formatThrown(known, { debug: process.env.KLP_SPLIT_DEBUG === '1' }));
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

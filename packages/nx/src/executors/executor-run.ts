import type { ExecutorContext } from '@nx/devkit';
import { checkOptions, type CommandSpec, defaultIo, formatThrown, type Io, isCi, type OptionsOf } from '@klp-split/core';
import type { Command } from '../commands/registry.js';

export interface ExecutorResult {
  success: boolean;
}

/**
 * Runs one executor's work with the packages' functions (no command line in
 * between) and Nx's verdict from its result. Every failure is one diagnostic
 * in the task's output, never an exception Nx would print as a stack.
 */
export async function runExecutor(work: (io: Io) => Promise<boolean> | boolean, quiet = false): Promise<ExecutorResult> {
  const io = defaultIo(quiet || isCi());
  try {
    return { success: await work(io) };
  } catch (e) {
    io.err(formatThrown(e, { debug: process.env.KLP_SPLIT_DEBUG === '1' }));
    return { success: false };
  }
}

/**
 * A command as an Nx executor: the options Nx checked against the schema
 * made from the command's one definition, the command's function run from
 * the workspace root, printing what the command line prints.
 */
export function commandExecutor<S extends CommandSpec>(command: Command<S>): (options: OptionsOf<S>, context: ExecutorContext) => Promise<ExecutorResult> {
  return (options, context) =>
    runExecutor(async (io) => {
      const checked = checkOptions(command.spec, options as Record<string, unknown>);
      const run = await command.load();
      return (await run(checked, { io, base: context.root })).exitCode === 0;
    }, (options as { quiet?: boolean }).quiet === true);
}

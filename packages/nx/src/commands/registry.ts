import type { CommandContext, CommandResult, CommandSpec, OptionsOf } from '@klp-split/core';
import { BUILD_COMMAND, runBuild } from '@klp-split/kbuild-gen';
import { runVerify, VERIFY_COMMAND } from '@klp-split/runtime-sim';
import { CONVERT_COMMAND } from './convert-options.js';
import { CREATE_COMMAND } from './create-options.js';
import { REPORT_COMMAND } from './report-options.js';
import { runReport } from './report.js';
import { SPLIT_COMMAND } from './split-options.js';

/** A command's one function, as the command line and the Nx executor (or generator) call it. */
export type CommandRun<S extends CommandSpec> = (options: OptionsOf<S>, ctx: CommandContext) => CommandResult | Promise<CommandResult>;

/** A command: its options' one definition and its function, loaded when it runs. */
export interface Command<S extends CommandSpec = CommandSpec> {
  spec: S;
  /** create, split and convert load the C parser (tree-sitter and its grammar): imported when one of them runs. */
  load: () => Promise<CommandRun<S>>;
  /** How Nx runs it: an executor (a target) or a generator (nx g). */
  nx: 'executor' | 'generator';
}

function command<S extends CommandSpec>(spec: S, nx: Command['nx'], load: () => Promise<CommandRun<S>>): Command<S> {
  return { spec, nx, load };
}

/** The commands that are both a `klp-split` command and an Nx executor or generator. */
export const COMMANDS = {
  create: command(CREATE_COMMAND, 'executor', async () => (await import('./create.js')).runCreate),
  split: command(SPLIT_COMMAND, 'executor', async () => (await import('./split.js')).runSplit),
  convert: command(CONVERT_COMMAND, 'generator', async () => (await import('./convert.js')).runConvert),
  build: command(BUILD_COMMAND, 'executor', async () => runBuild),
  verify: command(VERIFY_COMMAND, 'executor', async () => runVerify),
  report: command(REPORT_COMMAND, 'executor', async () => runReport),
} as const;

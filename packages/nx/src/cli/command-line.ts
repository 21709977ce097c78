import { type CommandSpec, EXIT_OK, type Io } from '@klp-split/core';
import type { Command } from '../commands/registry.js';
import { parseCommandLine } from './args.js';
import { commandHelp } from './command-help.js';

/** A command on the command line: its arguments parsed by its one definition, its function run from the current directory. */
export async function runCommandLine<S extends CommandSpec>(command: Command<S>, argv: string[], io: Io): Promise<number> {
  const options = parseCommandLine(command.spec, argv);
  if (options === 'help') {
    io.out(commandHelp(command.spec));
    return EXIT_OK;
  }
  const run = await command.load();
  return (await run(options, { io, base: process.cwd() })).exitCode;
}

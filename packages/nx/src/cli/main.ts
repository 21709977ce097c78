import { exitCodeFor, formatThrown, TOOL_VERSION } from '@klp-split/core';
import { COMMANDS } from '../commands/registry.js';
import { commandHelp } from './command-help.js';
import { runCommandLine } from './command-line.js';
import { EXIT_OK, EXIT_USAGE, UsageError } from './exit-codes.js';
import { kernelCommand, KERNEL_HELP } from './kernel-command.js';
import { kernelIdCommand } from './kernel-id-command.js';
import { defaultIo, isCi, type Io } from './output.js';
import { relocsCommand, RELOCS_HELP } from './relocs-command.js';
import { simulateCommand, SIMULATE_HELP } from './simulate-command.js';

const MAIN_HELP = `Usage: klp-split <command> [options]

Splits kernel livepatches into a main module for vmlinux and one module per
patched kernel module, builds them with kbuild, and verifies them in a
simulator of the split livepatch kernel.

Commands:
  create <fix.patch>... --out <dir>  make a livepatch from a fix (a unified diff)
  split <file.c> --out <dir>         split one livepatch source
  convert <dir>                      convert a kernel source directory in place
  build <dir>                        build split modules (or target modules) with kbuild
  verify <dir> --target <ko>...      check the built modules and simulate loading them
  simulate <dir> --target <ko>...    run a scenario or every load order in the simulator
  relocs <file.ko> [--write]         list (or write) a module's livepatch relocations
  kernel add <release> | list        Debian kernels to build and verify against
  report [<dir>...]                  the livepatch x kernel table of per-kernel verify results
  kernel-id [--kdir <dir> | --marker <klp-*.json>]
                                     print the kernel tree's release and Module.symvers hash

Run 'klp-split <command> --help' for a command's options.
Global option: --debug prints the stack trace of an internal error.

Exit status: 0 ok, 1 findings (errors in sources, builds or modules),
2 usage, input or environment error, 3 internal error (a defect of
klp-split; --debug prints its stack trace).`;

const HELP: Record<string, string> = { simulate: SIMULATE_HELP, kernel: KERNEL_HELP, relocs: RELOCS_HELP };

function helpText(command: string | undefined): string {
  if (command && Object.hasOwn(COMMANDS, command)) return commandHelp(COMMANDS[command as keyof typeof COMMANDS].spec);
  return HELP[command ?? ''] ?? MAIN_HELP;
}

export async function main(args: string[], io: Io = defaultIo(args.includes('--quiet') || args.includes('-q') || isCi())): Promise<number> {
  // --debug is global: stack traces of internal errors, for bug reports.
  const debug = args.includes('--debug') || process.env.KLP_SPLIT_DEBUG === '1';
  const argv = args.filter((a) => a !== '--debug');
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case undefined:
      case '-h':
      case '--help':
        io.out(MAIN_HELP);
        return command === undefined ? EXIT_USAGE : EXIT_OK;
      case '--version':
        io.out(TOOL_VERSION);
        return EXIT_OK;
      case 'help':
        io.out(helpText(rest[0]));
        return EXIT_OK;
      case 'create':
        return await runCommandLine(COMMANDS.create, rest, io);
      case 'split':
        return await runCommandLine(COMMANDS.split, rest, io);
      case 'convert':
        return await runCommandLine(COMMANDS.convert, rest, io);
      case 'build':
        return await runCommandLine(COMMANDS.build, rest, io);
      case 'verify':
        return await runCommandLine(COMMANDS.verify, rest, io);
      case 'simulate':
        return await simulateCommand(rest, io);
      case 'relocs':
        return await relocsCommand(rest, io);
      case 'report':
        return await runCommandLine(COMMANDS.report, rest, io);
      case 'kernel':
        return kernelCommand(rest, io);
      case 'kernel-id':
        return await kernelIdCommand(rest, io);
      default:
        throw new UsageError(`unknown command '${command}'; run 'klp-split --help'`);
    }
  } catch (e) {
    // Every command ends here: input and environment errors are diagnostics (exit 2), anything else is a
    // defect of the tool (exit 3), never a bare stack trace.
    io.err(formatThrown(e, { debug }));
    return exitCodeFor(e);
  }
}

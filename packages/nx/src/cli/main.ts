import { exitCodeFor, formatThrown, TOOL_VERSION } from '@klp-split/core';
import { buildCommand, BUILD_HELP } from './build-command.js';
import { EXIT_OK, EXIT_USAGE, UsageError } from './exit-codes.js';
import { kernelCommand, KERNEL_HELP } from './kernel-command.js';
import { kernelIdCommand } from './kernel-id-command.js';
import { reportCommand, REPORT_HELP } from './report-command.js';
import { defaultIo, isCi, type Io } from './output.js';
import { relocsCommand, RELOCS_HELP } from './relocs-command.js';
import { simulateCommand, SIMULATE_HELP } from './simulate-command.js';
import { verifyCommand, VERIFY_HELP } from './verify-command.js';

const MAIN_HELP = `Usage: klp-split <command> [options]

Splits kernel livepatches into a main module for vmlinux and one module per
patched kernel module, builds them with kbuild, and verifies them in a
simulator of the split livepatch kernel.

Commands:
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

const HELP: Record<string, string> = { build: BUILD_HELP, verify: VERIFY_HELP, simulate: SIMULATE_HELP, kernel: KERNEL_HELP, report: REPORT_HELP, relocs: RELOCS_HELP };

// split and convert load the C parser (tree-sitter and its grammar): imported when one of them runs, so the
// other commands (verify, build, ...) start without it.
const splitModule = () => import('./split-command.js');
const convertModule = () => import('./convert-command.js');

async function helpText(command: string | undefined): Promise<string> {
  if (command === 'split') return (await splitModule()).SPLIT_HELP;
  if (command === 'convert') return (await convertModule()).CONVERT_HELP;
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
        io.out(await helpText(rest[0]));
        return EXIT_OK;
      case 'split':
        return await (await splitModule()).splitCommand(rest, io);
      case 'convert':
        return await (await convertModule()).convertCommand(rest, io);
      case 'build':
        return await buildCommand(rest, io);
      case 'verify':
        return await verifyCommand(rest, io);
      case 'simulate':
        return await simulateCommand(rest, io);
      case 'relocs':
        return await relocsCommand(rest, io);
      case 'report':
        return reportCommand(rest, io);
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

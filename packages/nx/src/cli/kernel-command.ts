import { addKernel } from '../kernels/add-kernel.js';
import { availableKernels } from '../kernels/available-kernels.js';
import { installedKernels } from '@klp-split/kernel-facts';
import { flag, parseCommandArgs } from './args.js';
import { EXIT_OK, UsageError } from './exit-codes.js';
import type { Io } from './output.js';

export const KERNEL_HELP = `Usage: klp-split kernel add <release>...
       klp-split kernel list [--available] [--json]

The kernels livepatches are built and verified against, one per Debian
release string (e.g. 6.1.0-57-amd64, 6.12.113+deb12-cloud-amd64).

  add <release>...  installs linux-headers-<release> (the host's package
                    when installed, else Debian's packages unpacked into
                    ~/.cache/klp-split/kernels/<release>: nothing of the
                    host changes) and takes the kallsyms dump of
                    linux-image-<release> booted under qemu (cached per
                    release)
  list              the installed kernels: release, headers, kallsyms dump
  list --available  the releases apt offers headers for (amd64 flavours)
  --json            print the list as JSON

Then: klp-split build --kernel <release>, klp-split verify --kernel
<release>, and the Nx plugin's option "kernels": [<release>, ...].

Exit status: 0 ok, 2 usage or environment error.`;

export function kernelCommand(argv: string[], io: Io): number {
  const args = parseCommandArgs('kernel', argv, { available: { type: 'boolean' }, json: { type: 'boolean' }, quiet: { type: 'boolean', short: 'q' } });
  const [sub, ...rest] = args.positionals;
  if (flag(args, 'help') || sub === undefined) {
    io.out(KERNEL_HELP);
    if (sub === undefined && !flag(args, 'help')) throw new UsageError("kernel: give 'add <release>...' or 'list'");
    return EXIT_OK;
  }
  if (sub === 'add') {
    if (rest.length === 0) throw new UsageError('kernel add: give one or more releases (klp-split kernel list --available)');
    for (const release of rest) {
      const k = addKernel(release, io.progress);
      io.out(`kernel ${k.release}: headers ${k.kdir}, kallsyms ${k.kallsyms ?? '(none)'}`);
    }
    return EXIT_OK;
  }
  if (sub === 'list') {
    if (rest.length) throw new UsageError('kernel list: takes no arguments');
    if (flag(args, 'available')) {
      const releases = availableKernels();
      io.out(flag(args, 'json') ? JSON.stringify(releases, null, 2) : releases.join('\n'));
      return EXIT_OK;
    }
    const kernels = installedKernels();
    if (flag(args, 'json')) io.out(JSON.stringify(kernels, null, 2));
    else for (const k of kernels) io.out(`${k.release}\t${k.kdir}\t${k.kallsyms ? 'kallsyms' : 'no kallsyms (klp-split kernel add)'}`);
    return EXIT_OK;
  }
  throw new UsageError(`kernel: unknown subcommand '${sub}' (add or list)`);
}

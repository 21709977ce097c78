import { createHash } from 'node:crypto';
import { readInput } from '@klp-split/core';
import { checkKernelTree, discoverKernelTree, installedKernel } from '@klp-split/kernel-facts';
import { readAnyMarker } from '../plugin/markers.js';
import { flag, parseCommandArgs, str } from './args.js';
import { EXIT_OK, UsageError } from './exit-codes.js';
import type { Io } from './output.js';

/**
 * Prints what identifies the kernel tree builds depend on: its release and
 * a hash of its Module.symvers. Nx uses it as a cache input.
 *
 * `--marker <file>` takes the tree from a project's marker (its "kdir"):
 * the Nx plugin passes the marker's path rather than the kdir itself, so
 * no string from a marker ever reaches the shell Nx runs this in.
 */
const KERNEL_ID_HELP = `Usage: klp-split kernel-id [--kdir <dir> | --marker <klp-livepatch.json|klp-module.json> | --kernel <release>]

Prints the kernel tree's release, a hash of its Module.symvers and
linux/livepatch.h, and its directory: the Nx targets' cache input.

  --kdir <dir>     the kernel tree (default: $KDIR, then the kernel environment)
  --marker <file>  take the tree from the marker's "kdir" (the marker is validated)
  --kernel <rel>   a kernel installed with 'klp-split kernel add': its headers,
                   and its kallsyms dump (verify reads it) in the hash

Exit status: 0 ok, 2 no kernel tree or a bad marker.`;

export function kernelIdCommand(argv: string[], io: Io): number {
  const args = parseCommandArgs('kernel-id', argv, { kdir: { type: 'string' }, marker: { type: 'string' }, kernel: { type: 'string' } });
  if (flag(args, 'help')) {
    io.out(KERNEL_ID_HELP);
    return EXIT_OK;
  }
  const release = str(args, 'kernel');
  if (release !== undefined) {
    if (str(args, 'marker') !== undefined || str(args, 'kdir') !== undefined) throw new UsageError('kernel-id: give --kernel alone');
    const k = installedKernel(release);
    const tree = checkKernelTree(k.kdir, '--kernel');
    const hash = createHash('sha256').update(readInput(tree.symvers, 'symbols', { what: 'Module.symvers' })).update(readInput(tree.livepatchHeader, 'source'));
    hash.update(k.kallsyms ? readInput(k.kallsyms, 'symbols', { what: 'kallsyms dump' }) : 'no kallsyms dump');
    io.out(`${tree.release} ${hash.digest('hex').slice(0, 16)} ${k.kallsyms ? 'kallsyms' : 'no-kallsyms'}`);
    return EXIT_OK;
  }
  const markerPath = str(args, 'marker');
  if (markerPath !== undefined && str(args, 'kdir') !== undefined) throw new UsageError('kernel-id: give --kdir or --marker, not both');
  const marker = markerPath === undefined ? undefined : readAnyMarker(markerPath, process.cwd());
  const kdir = marker ? marker.kdir : str(args, 'kdir');
  const tree = discoverKernelTree({ kdir, from: markerPath && `${markerPath}: "kdir"` });
  const hash = createHash('sha256').update(readInput(tree.symvers, 'symbols', { what: 'Module.symvers' })).update(readInput(tree.livepatchHeader, 'source')).digest('hex').slice(0, 16);
  io.out(`${tree.release} ${hash} ${tree.dir}`);
  return EXIT_OK;
}

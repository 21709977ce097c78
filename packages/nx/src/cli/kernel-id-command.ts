import { createHash } from 'node:crypto';
import { readInput } from '@klp-split/core';
import { discoverKernelTree, KernelTreeError } from '@klp-split/kbuild-gen';
import { parseCommandArgs, str } from './args.js';
import { EXIT_OK, UsageError } from './exit-codes.js';
import type { Io } from './output.js';

/**
 * Prints what identifies the kernel tree builds depend on: its release and
 * a hash of its Module.symvers. Nx uses it as a cache input.
 */
export function kernelIdCommand(argv: string[], io: Io): number {
  const args = parseCommandArgs('kernel-id', argv, { kdir: { type: 'string' } });
  try {
    const tree = discoverKernelTree({ kdir: str(args, 'kdir') });
    const hash = createHash('sha256').update(readInput(tree.symvers, 'symbols', { what: 'Module.symvers' })).update(readInput(tree.livepatchHeader, 'source')).digest('hex').slice(0, 16);
    io.out(`${tree.release} ${hash} ${tree.dir}`);
    return EXIT_OK;
  } catch (e) {
    if (e instanceof KernelTreeError) throw new UsageError(`kernel-id: ${e.message}`);
    throw e;
  }
}

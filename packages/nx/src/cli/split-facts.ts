import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { KlpError } from '@klp-split/core';
import { discoverKernelTree } from '@klp-split/kbuild-gen';
import { loadFacts, splitterFacts } from '@klp-split/klp-relocs';
import { defaultKallsymsFile } from '@klp-split/runtime-sim';
import type { SymbolFacts } from '@klp-split/splitter';
import { UsageError } from './exit-codes.js';
import { requireRegularFile } from './input-files.js';

/**
 * What split and convert know about the symbols a livepatch uses, for
 * placement by object: vmlinux's exports (the kernel tree's Module.symvers),
 * vmlinux's symbols (a kallsyms dump: --kallsyms, else the one cached for
 * the tree's release) and the target modules' symbols and exports (--target).
 * Undefined when none of them is at hand: only annotations say anything then.
 */
export function symbolFacts(command: string, kdir: string | undefined, targets: string[], kallsyms: string | undefined): SymbolFacts | undefined {
  for (const t of targets) requireRegularFile(command, '--target module', t);
  if (kallsyms !== undefined) requireRegularFile(command, '--kallsyms dump', kallsyms);
  let tree;
  try {
    tree = discoverKernelTree({ kdir, install: false });
  } catch {
    tree = undefined;
  }
  const dump = kallsyms ?? (tree ? defaultKallsymsFile(tree.release) : undefined);
  if (!tree && !targets.length && !dump) return undefined;
  try {
    return splitterFacts(loadFacts({ symvers: tree ? [tree.symvers] : [], targets: targets.map((t) => resolve(t)), kallsyms: dump && existsSync(dump) ? dump : undefined }));
  } catch (e) {
    if (e instanceof KlpError) throw e;
    throw new UsageError(`${command}: ${(e as Error).message}`);
  }
}

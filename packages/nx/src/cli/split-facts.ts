import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { KernelTree, SymbolFacts } from '@klp-split/core';
import { loadFacts, splitterFacts } from '@klp-split/klp-relocs';
import { requireRegularFile } from './input-files.js';

/**
 * What split and convert know about the symbols a livepatch uses, for
 * placement by object (docs/split-design.md §8): vmlinux's exports (the
 * kernel tree's Module.symvers), vmlinux's symbols (a kallsyms dump:
 * --kallsyms, else the tree's) and the target modules' symbols and exports
 * (--target). Undefined when none is at hand: only annotations say anything.
 */
export function symbolFacts(command: string, tree: KernelTree | undefined, targets: string[], kallsyms: string | undefined): SymbolFacts | undefined {
  for (const t of targets) requireRegularFile(command, '--target module', t);
  if (kallsyms !== undefined) requireRegularFile(command, '--kallsyms dump', kallsyms);
  const dump = kallsyms ?? tree?.kallsyms;
  if (!tree && !targets.length && !dump) return undefined;
  return splitterFacts(loadFacts({ symvers: tree ? [tree.symvers] : [], targets: targets.map((t) => resolve(t)), kallsyms: dump && existsSync(dump) ? dump : undefined }));
}

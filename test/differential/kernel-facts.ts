import { readFileSync } from 'node:fs';
import { discoverKernelTree, kernelEnv, defaultKallsymsFile } from '@klp-split/kernel-facts';
import type { KernelFacts } from './catalogue.js';

/** A vmlinux name kallsyms lists exactly twice, and an export of a module (no namespace). */
export function kernelFacts(): KernelFacts {
  const release = kernelEnv().KLP_KERNEL_RELEASE;
  const dump = defaultKallsymsFile(release);
  if (!dump) throw new Error(`no kallsyms dump of ${release}: run scripts/qemu-kernel.sh kallsyms`);
  const count = new Map<string, number>();
  for (const line of readFileSync(dump, 'utf8').split('\n')) {
    const [, type, name, mod] = line.split(/\s+/);
    if (name && !mod) count.set(name, (count.get(name) ?? 0) + (/^[tT]$/.test(type ?? '') ? 1 : 100));
  }
  const duplicate = [...count].filter(([n, c]) => c === 2 && /^[a-z]\w*$/.test(n)).map(([n]) => n).sort()[0];
  const moduleExport = readFileSync(discoverKernelTree().symvers, 'utf8')
    .split('\n')
    .map((l) => l.split('\t'))
    .find(([, name, where, , ns]) => name && where !== 'vmlinux' && !ns && /^[a-z]\w+$/.test(name))?.[1];
  if (!duplicate || !moduleExport) throw new Error('cannot find a duplicate kallsyms name or a module export');
  return { duplicate, moduleExport };
}


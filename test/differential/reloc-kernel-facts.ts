import { readFileSync } from 'node:fs';
import { kernelEnv, defaultKallsymsFile } from '@klp-split/kernel-facts';
import type { KernelFacts } from './catalogue.js';
import { kernelFacts } from './kernel-facts.js';

export interface RelocKernelFacts extends KernelFacts {
  /** A vmlinux function kallsyms lists once whose name, after `vmlinux_`, overflows the kernel's 55-character object field. */
  longName: string;
}

export function relocKernelFacts(): RelocKernelFacts {
  const dump = defaultKallsymsFile(kernelEnv().KLP_KERNEL_RELEASE)!;
  const count = new Map<string, number>();
  for (const line of readFileSync(dump, 'utf8').split('\n')) {
    const [, type, name, mod] = line.split(/\s+/);
    if (name && !mod) count.set(name, (count.get(name) ?? 0) + (/^[tT]$/.test(type ?? '') ? 1 : 100));
  }
  const longName = [...count].filter(([n, c]) => c === 1 && n.length >= 50 && /^[a-z_]\w*$/.test(n)).map(([n]) => n).sort()[0];
  if (!longName) throw new Error('cannot find a unique vmlinux function with a name of 50 characters or more');
  return { ...kernelFacts(), longName };
}

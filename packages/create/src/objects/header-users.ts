import { spawnSync } from 'node:child_process';
import { posix } from 'node:path';
import type { KernelSource } from '../source/kernel-source.js';
import type { ObjectResolver } from './object-of-file.js';

/**
 * The C files of the kernel source that compile a header's changed static
 * inline or macro into their objects: they include the header (by its
 * include path, or by name next to it for a local header) and name one of
 * the changed definitions; only those the configuration builds count.
 */

export interface HeaderUser {
  file: string;
  object: string;
}

/** How C files name the header: `<linux/x.h>` for include/, `<asm/x.h>` for arch/x86/include/, else `"x.h"` beside it. */
function includeSpec(path: string): { spec: string; localDir?: string } {
  if (path.startsWith('include/')) return { spec: `<${path.slice('include/'.length)}>` };
  if (path.startsWith('arch/x86/include/')) return { spec: `<${path.slice('arch/x86/include/'.length)}>` };
  return { spec: `"${posix.basename(path)}"`, localDir: posix.dirname(path) };
}

function grepFiles(root: string, args: string[]): string[] {
  const r = spawnSync('grep', args, { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
  return (r.stdout ?? '').split('\n').filter(Boolean).map((f) => f.replace(/^\.\//, ''));
}

export function headerUsers(source: KernelSource, resolver: ObjectResolver, header: string, names: string[]): HeaderUser[] {
  const { spec, localDir } = includeSpec(header);
  const where = localDir ?? '.';
  const including = grepFiles(source.root, ['-rlF', '--include=*.c', '--include=*.h', '-e', `#include ${spec}`, '--', where]);
  // Headers that include it pass it on: their users are users too (one level, enough to refuse and name them).
  const via = including.filter((f) => f.endsWith('.h'));
  const cFiles = new Set(including.filter((f) => f.endsWith('.c')));
  for (const h of via) {
    const passed = includeSpec(h);
    for (const f of grepFiles(source.root, ['-rlF', '--include=*.c', '-e', `#include ${passed.spec}`, '--', passed.localDir ?? '.'])) cFiles.add(f);
  }
  if (!cFiles.size || !names.length) return [];
  const mentioning = new Set(grepFiles(source.root, ['-lw', ...names.flatMap((n) => ['-e', n]), '--', ...cFiles]));
  const out: HeaderUser[] = [];
  for (const file of [...mentioning].sort()) {
    const o = resolver.objectOf(file);
    if (o.ok) out.push({ file, object: o.object });
  }
  return out;
}

import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { KernelTree } from '@klp-split/core';

/**
 * The compiler's view of a source: kbuild's own `<file>.i` target, so names
 * built by macros and entries under `#ifdef CONFIG_...` come out as gcc sees
 * them for this kernel and configuration. The file and the headers next to
 * it are copied to a scratch directory (kbuild writes beside its sources).
 */
export function preprocessWithKbuild(tree: KernelTree, file: string, source: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'klp-split-cpp-'));
  try {
    // The copy's name becomes make text (obj-m, the target): a file name make or a shell would read as syntax gets a plain one.
    const own = basename(file).replace(/\.c$/, '');
    const base = /^[A-Za-z0-9_-]+$/.test(own) ? own : 'klp_split_source';
    for (const f of readdirSync(dirname(file))) if (f.endsWith('.h')) copyFileSync(join(dirname(file), f), join(dir, f));
    writeFileSync(join(dir, `${base}.c`), source, 'latin1');
    writeFileSync(join(dir, 'Kbuild'), `obj-m := ${base}.o\n`);
    execFileSync('make', ['-s', '-C', tree.dir, `M=${dir}`, `${base}.i`], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
    return readFileSync(join(dir, `${base}.i`), 'latin1');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

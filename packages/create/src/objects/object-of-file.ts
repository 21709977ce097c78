import { posix } from 'node:path';
import { kbuildModuleName } from '@klp-split/core';
import type { KernelConfig } from '../model/conditions.js';
import type { KernelSource } from '../source/kernel-source.js';
import { readMakefile, type MakefileVars } from './makefile.js';

/**
 * Which object of the kernel a source file is compiled into, from kbuild's
 * Makefiles and the kernel's configuration: `vmlinux`, or the module whose
 * `obj-m` line (directly or through a composite `<module>-y`) names it, in
 * a directory its parents reach.
 */

export type ObjectOfFile =
  | { ok: true; object: string; /** The module's file name without `.ko` (dashes kept), for modules. */ moduleFile?: string; /** The Makefile lines that decided it, for messages. */ via: string[] }
  | { ok: false; reason: 'not-built' | 'unknown'; message: string };

/** The object a `<dir>/<name>.o` goes into within its directory, following composites. */
type Local = { kind: 'y' | 'm'; top: string; via: string[] } | { kind: 'off' | 'unknown'; why: string };

export class ObjectResolver {
  readonly #makefiles = new Map<string, MakefileVars | undefined>();

  constructor(
    readonly source: KernelSource,
    readonly config: KernelConfig,
  ) {}

  /** The dir's Kbuild (kbuild prefers it) or Makefile, read once. */
  makefile(dir: string): MakefileVars | undefined {
    if (!this.#makefiles.has(dir)) {
      const name = ['Kbuild', 'Makefile'].map((f) => (dir ? `${dir}/${f}` : f)).find((f) => this.source.isFile(f));
      this.#makefiles.set(dir, name ? readMakefile(this.source.read(name)!, this.config) : undefined);
    }
    return this.#makefiles.get(dir);
  }

  #local(dir: string, obj: string, depth = 0): Local {
    const mk = this.makefile(dir);
    const where = `${dir || '.'}/${this.source.isFile(`${dir}/Kbuild`) ? 'Kbuild' : 'Makefile'}`;
    if (!mk) return { kind: 'unknown', why: `${dir || '.'} has no Makefile` };
    if (depth > 8) return { kind: 'unknown', why: `composites nest too deep in ${where}` };
    for (const [kind, vars] of [['y', ['obj-y', 'lib-y']], ['m', ['obj-m']]] as const) {
      for (const v of vars) {
        if (!mk.values.get(v)?.includes(obj)) continue;
        if (mk.uncertain.has(`${v} ${obj}`)) return { kind: 'unknown', why: `${where} lists ${obj} in ${v} under a condition klp-split cannot evaluate` };
        return { kind, top: obj, via: [`${where}: ${v} += ${obj}`] };
      }
    }
    // A part of a composite: `<comp>-y`, `<comp>-objs`, `<comp>-m`.
    for (const [name, words] of mk.values) {
      const m = /^(.+)-(y|objs|m)$/.exec(name);
      if (!m || m[1] === 'obj' || m[1] === 'lib' || !words.includes(obj)) continue;
      if (mk.uncertain.has(`${name} ${obj}`)) return { kind: 'unknown', why: `${where} lists ${obj} in ${name} under a condition klp-split cannot evaluate` };
      const parent = this.#local(dir, `${m[1]}.o`, depth + 1);
      if (parent.kind === 'y' || parent.kind === 'm') return { ...parent, via: [`${where}: ${name} += ${obj}`, ...parent.via] };
      return parent;
    }
    return { kind: 'off', why: `${where} lists ${obj} in no obj-y, obj-m or composite that ${this.config.file} enables` };
  }

  /** Whether the directory is descended into: 'y' (built-in and modules), 'm' (modules only), or why not. */
  #reached(dir: string): { kind: 'y' | 'm'; via: string[] } | { kind: 'off' | 'unknown'; why: string } {
    if (dir === '') return { kind: 'y', via: [] };
    const parts = dir.split('/');
    // An ancestor may name the directory by a longer path (`obj-y += block/aoe/`).
    for (let up = parts.length - 1; up >= 0; up--) {
      const anc = parts.slice(0, up).join('/');
      const rel = `${parts.slice(up).join('/')}/`;
      const mk = this.makefile(anc);
      const roots = up === 0 ? this.#rootDirs() : undefined;
      const lists: [string, string[] | undefined][] = roots ? roots : [['obj-y', mk?.values.get('obj-y')], ['obj-m', mk?.values.get('obj-m')], ['subdir-y', mk?.values.get('subdir-y')]];
      for (const [v, words] of lists) {
        if (!words?.includes(rel)) continue;
        if (mk?.uncertain.has(`${v} ${rel}`)) return { kind: 'unknown', why: `${anc || '.'}/Makefile lists ${rel} in ${v} under a condition klp-split cannot evaluate` };
        const above = this.#reached(anc);
        if (above.kind !== 'y' && above.kind !== 'm') return above;
        const kind = v === 'obj-m' || above.kind === 'm' ? 'm' : 'y';
        return { kind, via: [...above.via, `${anc || '.'}: ${v} += ${rel}`] };
      }
    }
    return { kind: 'off', why: `no Makefile above ${dir}/ descends into it with ${this.config.file}` };
  }

  /** The directories the top level builds: Kbuild's obj-y, the top Makefile's and arch Makefile's core/drivers/libs. */
  #rootDirs(): [string, string[] | undefined][] {
    const top = this.makefile('');
    const arch = this.source.isFile('arch/x86/Makefile') ? readMakefile(this.source.read('arch/x86/Makefile')!, this.config) : undefined;
    const lists: [string, string[] | undefined][] = [['obj-y', top?.values.get('obj-y')]];
    const topMake = readMakefile(this.source.read('Makefile') ?? '', this.config);
    for (const v of ['core-y', 'drivers-y', 'libs-y']) lists.push([v, [...(topMake.values.get(v) ?? []), ...(arch?.values.get(v) ?? [])]]);
    return lists;
  }

  /** The object of a tree-relative `.c` file. */
  objectOf(path: string): ObjectOfFile {
    const dir = posix.dirname(path) === '.' ? '' : posix.dirname(path);
    const obj = posix.basename(path).replace(/\.[cS]$/, '.o');
    const local = this.#local(dir, obj);
    if (!('via' in local)) return { ok: false, reason: local.kind === 'off' ? 'not-built' : 'unknown', message: local.why };
    const reached = this.#reached(dir);
    if (!('via' in reached)) return { ok: false, reason: reached.kind === 'off' ? 'not-built' : 'unknown', message: reached.why };
    const via = [...reached.via, ...local.via];
    if (local.kind === 'y' && reached.kind === 'y') return { ok: true, object: 'vmlinux', via };
    if (local.kind === 'y') return { ok: false, reason: 'not-built', message: `${path} is obj-y in a directory only built for modules` };
    const moduleFile = local.top.replace(/\.o$/, '');
    return { ok: true, object: kbuildModuleName(moduleFile), moduleFile, via };
  }
}

import { beforeAll, describe, expect, it } from 'vitest';
import { caseCommands, kernelLog } from '../helpers/real-kernel.js';
import { klprBatch, klprModules } from '../real/batches/klp-relocs-real.js';
import { realBatch } from '../real/result.js';

/**
 * Issue 12 on the real kernel: Debian's 6.1 booted under qemu (the run's one
 * boot of it; the cases are test/real/batches/klp-relocs-real.ts). A classic
 * livepatch built by `klp-split build` reaches a static vmlinux function
 * (version_proc_show) and variable (max_threads), a name kallsyms lists
 * twice (console_show, position 2 annotated), and a static function, a
 * static variable and an export of a module loaded after it and before it.
 * Its output shows which symbols were reached. Then the target is reloaded
 * while the patch stays: Debian's 6.1 does not clear module livepatch
 * relocations on unload (upstream's clear_relocate_add() came in 6.3), so
 * the kernel refuses.
 */

/** Each command's output lines and then 'rc=<status>', by case and position. */
let a: string[][];
let b: string[][];
let dmesg: string;

beforeAll(async () => {
  const result = realBatch(klprBatch);
  const built = await klprModules();
  expect(built.buildOutput).toContain('console_show -> .klp.sym.vmlinux.console_show,2');
  const r = await result;
  expect(r.problems).toEqual([]);
  expect(r.left).toEqual(new Map());
  const blocks = (id: string) => caseCommands(r.cases.get(id) ?? []).map((c) => [...c.out, `rc=${c.rc}`]);
  a = blocks('A');
  b = blocks('B');
  dmesg = kernelLog(r);
}, 60 * 60_000);

describe('classic livepatch relocations on Debian 6.1', () => {
  it('reaches the static vmlinux function and variable, and the second console_show', () => {
    const [insmod, cmdline, kallsyms] = a;
    expect(insmod).toEqual(['rc=0']);
    const addr = (name: string, nth: number) => kallsyms!.filter((l) => l.endsWith(` ${name}`))[nth - 1]!.split(' ')[0];
    expect(kallsyms!.filter((l) => l.endsWith(' console_show'))).toHaveLength(2);
    expect(cmdline![0]).toMatch(new RegExp(`^klpr-real max_threads=\\d+ max_threads@${addr('max_threads', 1)} console_show#2@${addr('console_show', 2)}$`));
    // version_proc_show()'s own output: the static function was called.
    expect(cmdline![1]).toMatch(/^Linux version 6\.1\./);
  });

  it("patches a module loaded after it: the fix calls the module's static function, reads its static variable, calls its export", () => {
    expect(a[3]).toEqual(['rc=0']);
    expect(dmesg).toContain("livepatch: applying patch 'klpr_real' to loading module 'klpr_mod'");
    // klpr_mod_scale(2) = 2 * klpr_mod_base (5), klpr_mod_value() = 6: 10 + 6 + 5; unpatched it is 9.
    expect(dmesg).toContain('klpr-real: scale(2)=10 value=6 base=5 -> 21');
    expect(a[4]).toEqual(['21', 'rc=0']);
  });

  it("a reload of the target is refused: Debian's 6.1 does not clear module livepatch relocations", () => {
    expect(a[5]).toEqual(['rc=0']);
    expect(a[6]!.at(-1)).not.toBe('rc=0');
    expect(dmesg).toContain('x86/modules: Skipping invalid relocation target, existing value is nonzero for type 4');
    expect(dmesg).toContain("livepatch: failed to initialize patch 'klpr_real' for module 'klpr_mod' (-8)");
    expect(dmesg).toContain("livepatch: patch 'klpr_real' failed for module 'klpr_mod', refusing to load module 'klpr_mod'");
  });

  it('patches a module loaded before it', () => {
    expect(b[0]).toEqual(['rc=0']);
    expect(b[1]).toEqual(['rc=0']);
    expect(b[2]).toEqual(['21', 'rc=0']);
    expect(b[3]![0]).toMatch(/^klpr-real max_threads=/);
  });
});

import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { klpSplit, removeDir, ROOT, tempDir } from '../helpers/env.js';

/**
 * Issue 12 on the real kernel: Debian's 6.1 booted under qemu
 * (scripts/qemu-kernel.sh run). A classic livepatch built by `klp-split
 * build` reaches a static vmlinux function (version_proc_show) and variable
 * (max_threads), a name kallsyms lists twice (console_show, position 2
 * annotated), and a static function, a static variable and an export of a
 * module loaded after it and before it. Its output shows which symbols were
 * reached. Then the target is reloaded while the patch stays: Debian's
 * 6.1 does not clear module livepatch relocations on unload (upstream's
 * clear_relocate_add() came in 6.3), so the kernel refuses.
 */
const FIXTURES = join(ROOT, 'test/fixtures/klp-relocs');
const dirs: string[] = [];
afterAll(() => dirs.forEach(removeDir));

const RUN = `#!/bin/sh
cd /work
K() { echo "## $*"; }
K A insmod klpr-real; insmod ./klpr-real.ko; echo "rc=$?"
sleep 2
K A cmdline; cat /proc/cmdline
K kallsyms; grep -E ' (max_threads|console_show)$' /proc/kallsyms
K A insmod klpr-mod; insmod ./klpr-mod.ko; echo "rc=$?"
K A compute; cat /sys/module/klpr_mod/parameters/compute
K A rmmod klpr_mod; rmmod klpr_mod; echo "rc=$?"
K A reload klpr-mod; insmod ./klpr-mod.ko; echo "rc=$?"
K A disable; echo 0 > /sys/kernel/livepatch/klpr_real/enabled; sleep 2
rmmod klpr_real; echo "rc=$?"
K B insmod klpr-mod; insmod ./klpr-mod.ko; echo "rc=$?"
K B insmod klpr-real; insmod ./klpr-real.ko; echo "rc=$?"
sleep 2
K B compute; cat /sys/module/klpr_mod/parameters/compute
K B cmdline; cat /proc/cmdline
`;

let out: string;
let blocks: Map<string, string[]>;
let dmesg: string;

beforeAll(async () => {
  const mod = tempDir('klpr-real-mod');
  const lp = tempDir('klpr-real-lp');
  const run = tempDir('klpr-real-run');
  dirs.push(mod, lp, run);
  copyFileSync(join(FIXTURES, 'klpr-mod/klpr-mod.c'), join(mod, 'klpr-mod.c'));
  copyFileSync(join(FIXTURES, 'livepatches/klpr-real.c'), join(lp, 'klpr-real.c'));
  expect((await klpSplit(['build', mod])).code).toBe(0);
  const b = await klpSplit(['build', lp, '--target', join(mod, 'klpr-mod.ko')]);
  expect(b.code, b.stderr).toBe(0);
  expect(b.stdout).toContain('console_show -> .klp.sym.vmlinux.console_show,2');
  mkdirSync(run, { recursive: true });
  copyFileSync(join(mod, 'klpr-mod.ko'), join(run, 'klpr-mod.ko'));
  copyFileSync(join(lp, 'klpr-real.ko'), join(run, 'klpr-real.ko'));
  writeFileSync(join(run, 'run.sh'), RUN, { mode: 0o755 });
  // noapic: TCG under load can miss the IO-APIC timer check at boot (a panic before anything runs).
  const r = await execa('bash', [join(ROOT, 'scripts/qemu-kernel.sh'), 'run', run], { reject: false, env: { KLP_QEMU_APPEND: 'noapic' } });
  out = String(r.stdout);
  expect(r.exitCode, `${out}\n${r.stderr}`).toBe(0);
  const [guest, log] = out.split('### klp-qemu: dmesg');
  dmesg = log ?? '';
  blocks = new Map();
  let key = '';
  for (const line of guest!.split('\n')) {
    const m = /^## (.*)$/.exec(line);
    if (m) blocks.set((key = m[1]!), []);
    else if (key && line) blocks.get(key)!.push(line);
  }
}, 900_000);

describe('classic livepatch relocations on Debian 6.1', () => {
  it('reaches the static vmlinux function and variable, and the second console_show', () => {
    expect(blocks.get('A insmod klpr-real')).toEqual(['rc=0']);
    const kallsyms = blocks.get('kallsyms')!;
    const addr = (name: string, nth: number) => kallsyms.filter((l) => l.endsWith(` ${name}`))[nth - 1]!.split(' ')[0];
    expect(kallsyms.filter((l) => l.endsWith(' console_show'))).toHaveLength(2);
    const cmdline = blocks.get('A cmdline')!;
    expect(cmdline[0]).toMatch(new RegExp(`^klpr-real max_threads=\\d+ max_threads@${addr('max_threads', 1)} console_show#2@${addr('console_show', 2)}$`));
    // version_proc_show()'s own output: the static function was called.
    expect(cmdline[1]).toMatch(/^Linux version 6\.1\./);
  });

  it("patches a module loaded after it: the fix calls the module's static function, reads its static variable, calls its export", () => {
    expect(blocks.get('A insmod klpr-mod')).toEqual(['rc=0']);
    expect(dmesg).toContain("livepatch: applying patch 'klpr_real' to loading module 'klpr_mod'");
    // klpr_mod_scale(2) = 2 * klpr_mod_base (5), klpr_mod_value() = 6: 10 + 6 + 5; unpatched it is 9.
    expect(dmesg).toContain('klpr-real: scale(2)=10 value=6 base=5 -> 21');
    expect(blocks.get('A compute')).toEqual(['21']);
  });

  it("a reload of the target is refused: Debian's 6.1 does not clear module livepatch relocations", () => {
    expect(blocks.get('A rmmod klpr_mod')).toEqual(['rc=0']);
    expect(blocks.get('A reload klpr-mod')!.at(-1)).not.toBe('rc=0');
    expect(dmesg).toContain('x86/modules: Skipping invalid relocation target, existing value is nonzero for type 4');
    expect(dmesg).toContain("livepatch: failed to initialize patch 'klpr_real' for module 'klpr_mod' (-8)");
    expect(dmesg).toContain("livepatch: patch 'klpr_real' failed for module 'klpr_mod', refusing to load module 'klpr_mod'");
  });

  it('patches a module loaded before it', () => {
    expect(blocks.get('B insmod klpr-mod')).toEqual(['rc=0']);
    expect(blocks.get('B insmod klpr-real')).toEqual(['rc=0']);
    expect(blocks.get('B compute')).toEqual(['21']);
    expect(blocks.get('B cmdline')![0]).toMatch(/^klpr-real max_threads=/);
  });
});

import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DONE_MARKER, parseGuestReport } from '../../packages/nx/src/real-kernel/guest-report.js';
import { runGuest } from '../../packages/nx/src/real-kernel/guest-run.js';
import { klpSplit, removeDir, ROOT, tempDir } from '../helpers/env.js';

/**
 * Issue 12 on the real kernel: Debian's 6.1 booted under qemu
 * (qemu-kernel.sh run; the guest's side is test/guest/klp-relocs-real.sh, one
 * case per command, each case's output lines and then 'rc=<status>'). A classic livepatch built by `klp-split
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
  const r = await runGuest({
    kernel: 'stock',
    kos: [],
    script: join(ROOT, 'test/guest/klp-relocs-real.sh'),
    files: { 'klpr-mod.ko': join(mod, 'klpr-mod.ko'), 'klpr-real.ko': join(lp, 'klpr-real.ko') },
    workDir: run,
    timeoutS: 300,
  });
  expect(r.exitCode, `${r.output}\n${r.stderr}`).toBe(0);
  expect(r.output).toContain(DONE_MARKER);
  dmesg = r.dmesg;
  const report = parseGuestReport(dmesg, () => false);
  expect(report.problems).toEqual([]);
  blocks = new Map([...report.cases].map(([id, lines]) => [id, lines.flatMap((l) => (l.kind === 'out' ? [l.text] : l.kind === 'rc' ? [`rc=${l.status}`] : []))]));
}, 900_000);

describe('classic livepatch relocations on Debian 6.1', () => {
  it('reaches the static vmlinux function and variable, and the second console_show', () => {
    expect(blocks.get('A-insmod-klpr-real')).toEqual(['rc=0']);
    const kallsyms = blocks.get('kallsyms')!;
    const addr = (name: string, nth: number) => kallsyms.filter((l) => l.endsWith(` ${name}`))[nth - 1]!.split(' ')[0];
    expect(kallsyms.filter((l) => l.endsWith(' console_show'))).toHaveLength(2);
    const cmdline = blocks.get('A-cmdline')!;
    expect(cmdline[0]).toMatch(new RegExp(`^klpr-real max_threads=\\d+ max_threads@${addr('max_threads', 1)} console_show#2@${addr('console_show', 2)}$`));
    // version_proc_show()'s own output: the static function was called.
    expect(cmdline[1]).toMatch(/^Linux version 6\.1\./);
  });

  it("patches a module loaded after it: the fix calls the module's static function, reads its static variable, calls its export", () => {
    expect(blocks.get('A-insmod-klpr-mod')).toEqual(['rc=0']);
    expect(dmesg).toContain("livepatch: applying patch 'klpr_real' to loading module 'klpr_mod'");
    // klpr_mod_scale(2) = 2 * klpr_mod_base (5), klpr_mod_value() = 6: 10 + 6 + 5; unpatched it is 9.
    expect(dmesg).toContain('klpr-real: scale(2)=10 value=6 base=5 -> 21');
    expect(blocks.get('A-compute')).toEqual(['21', 'rc=0']);
  });

  it("a reload of the target is refused: Debian's 6.1 does not clear module livepatch relocations", () => {
    expect(blocks.get('A-rmmod-klpr_mod')).toEqual(['rc=0']);
    expect(blocks.get('A-reload-klpr-mod')!.at(-1)).not.toBe('rc=0');
    expect(dmesg).toContain('x86/modules: Skipping invalid relocation target, existing value is nonzero for type 4');
    expect(dmesg).toContain("livepatch: failed to initialize patch 'klpr_real' for module 'klpr_mod' (-8)");
    expect(dmesg).toContain("livepatch: patch 'klpr_real' failed for module 'klpr_mod', refusing to load module 'klpr_mod'");
  });

  it('patches a module loaded before it', () => {
    expect(blocks.get('B-insmod-klpr-mod')).toEqual(['rc=0']);
    expect(blocks.get('B-insmod-klpr-real')).toEqual(['rc=0']);
    expect(blocks.get('B-compute')).toEqual(['21', 'rc=0']);
    expect(blocks.get('B-cmdline')![0]).toMatch(/^klpr-real max_threads=/);
  });
});

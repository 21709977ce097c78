import { cpSync, existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { klpSplit, removeDir, ROOT, tempDir } from '../helpers/env.js';
import { runOnSplitKernel, splitKernel, type GuestRun, type SplitKernel } from '../helpers/split-kernel.js';

/**
 * The split livepatch kernel: Debian's 6.1 with the project's kernel/patches
 * (scripts/split-kernel.sh, cached by source version and patch hash; a cold
 * build is minutes), booted under qemu. klpd-fix of examples/ is split and
 * built against that kernel's tree (its livepatch.h has the split API, so no
 * overlay), its targets too, and test/guest/split-kernel.sh drives the cases
 * the assertions below read from the kernel log.
 */

const TARGETS = ['klpd-counter', 'klpd-parser', 'klpd-ticker'];
const PARTS = ['klpd_fix__klpd_counter', 'klpd_fix__klpd_parser', 'klpd_fix__klpd_ticker'];

/** The loaded modules of each 'lsmod' line of a case, in order. */
function lsmods(lines: string[]): string[][] {
  return lines.filter((l) => l.startsWith('lsmod')).map((l) => l.slice('lsmod'.length).trim().split(/\s+/).filter(Boolean));
}

/** Each command of a case with its exit status: '<command> -> <rc>'. */
function statuses(lines: string[]): string[] {
  const out: string[] = [];
  let cmd = '';
  for (const l of lines) {
    if (l.startsWith('% ')) cmd = l.slice(2);
    else if (l.startsWith('rc ')) out.push(`${cmd} -> ${l.slice(3)}`);
  }
  return out;
}

const PATCHED_CMDLINE = 'out this has been live patched by klpd-fix';

describe('the split livepatch kernel runs a split built by klp-split', () => {
  let dir: string;
  let kernel: SplitKernel;
  let run: GuestRun;
  let buildRecord: Record<string, unknown>;
  const kos: string[] = [];

  beforeAll(async () => {
    kernel = await splitKernel();
    dir = tempDir('split-kernel');
    for (const t of TARGETS) {
      cpSync(join(ROOT, 'examples/modules', t), join(dir, t), { recursive: true });
      const r = await klpSplit(['build', join(dir, t), '--kdir', kernel.kdir]);
      expect(r.code, r.stderr).toBe(0);
      kos.push(join(dir, t, `${t}.ko`));
    }
    const out = join(dir, 'klpd-fix');
    const split = await klpSplit(['split', join(ROOT, 'examples/livepatches/klpd-fix/klpd-fix.c'), '--out', out]);
    expect(split.code, split.stderr).toBe(0);
    const build = await klpSplit(['build', out, '--kdir', kernel.kdir]);
    expect(build.code, build.stderr).toBe(0);
    buildRecord = JSON.parse(readFileSync(join(out, '.klp-split/build.json'), 'utf8')) as Record<string, unknown>;
    for (const f of readdirSync(out)) if (f.endsWith('.ko') && f.startsWith('klpd-fix')) kos.push(join(out, f));
    run = await runOnSplitKernel(kernel, kos, join(ROOT, 'test/guest/split-kernel.sh'), dir, 'klpd_');
    console.log(`split kernel: scripts/split-kernel.sh ${Math.round(kernel.ms / 1000)} s, qemu run ${Math.round(run.ms / 1000)} s`);
    // The whole kernel log, for a failure's evidence.
    if (process.env.KLP_SPLIT_KERNEL_LOG) console.log(run.dmesg);
  }, 90 * 60_000);

  afterAll(() => {
    if (dir) removeDir(dir);
  });

  it('builds the split against the kernel tree without the overlay', () => {
    expect(readFileSync(join(kernel.kdir, 'include/linux/livepatch.h'), 'latin1')).toMatch(/int klp_add_object\(struct klp_object \*obj\);/);
    expect(buildRecord.kdir).toBe(kernel.kdir);
    expect(buildRecord.overlayInclude).toBeUndefined();
    expect(kos.map((k) => k.replace(/.*\//, '')).sort()).toEqual(
      ['klpd-counter.ko', 'klpd-fix.ko', 'klpd-fix__klpd-counter.ko', 'klpd-fix__klpd-parser.ko', 'klpd-fix__klpd-ticker.ko', 'klpd-parser.ko', 'klpd-ticker.ko'],
    );
    for (const ko of kos) expect(existsSync(ko)).toBe(true);
  });

  it('runs every case to its end', () => {
    expect(run.problems).toEqual([]);
    expect([...run.cases.keys()]).toEqual(['lifecycle', 'by-hand', 'missing']);
  });

  it('loads the per-object modules of loaded targets with the patch, and of targets loaded later with them', () => {
    const lines = run.cases.get('lifecycle')!;
    const mods = lsmods(lines);
    expect(mods[0]).toEqual(['klpd_counter', 'klpd_parser']);
    // modprobe klpd_fix: the two loaded targets got their per-object modules.
    expect(mods[1]).toEqual(['klpd_counter', 'klpd_fix', 'klpd_fix__klpd_counter', 'klpd_fix__klpd_parser', 'klpd_parser']);
    expect(lines).toContain('objects klpd_counter klpd_parser vmlinux');
    expect(lines).toContain(PATCHED_CMDLINE);
    // One transition for the whole patch, after the per-object modules loaded.
    const enabling = lines.indexOf("livepatch: enabling patch 'klpd_fix'");
    expect(enabling).toBeGreaterThan(0);
    expect(lines.filter((l) => l === "livepatch: 'klpd_fix': starting patching transition")).toHaveLength(1);
    expect(lines).toContain("livepatch: 'klpd_fix': patching complete");
    // modprobe klpd_ticker: its per-object module came with it and patched it at once.
    expect(mods[2]).toEqual(['klpd_counter', 'klpd_fix', 'klpd_fix__klpd_counter', 'klpd_fix__klpd_parser', 'klpd_fix__klpd_ticker', 'klpd_parser', 'klpd_ticker']);
    expect(lines).toContain("livepatch: applying patch 'klpd_fix' to loading module 'klpd_ticker'");
    expect(lines).toContain('objects klpd_counter klpd_parser klpd_ticker vmlinux');
  });

  it('removes a per-object module with its target, and loads it again when the target comes back', () => {
    const lines = run.cases.get('lifecycle')!;
    const mods = lsmods(lines);
    expect(lines).toContain("livepatch: reverting patch 'klpd_fix' on unloading module 'klpd_parser'");
    expect(mods[3]).toEqual(['klpd_counter', 'klpd_fix', 'klpd_fix__klpd_counter', 'klpd_fix__klpd_ticker', 'klpd_ticker']);
    expect(lines).toContain('objects klpd_counter klpd_ticker vmlinux');
    expect(mods[4]).toContain('klpd_fix__klpd_parser');
    expect(lines).toContain("livepatch: applying patch 'klpd_fix' to loading module 'klpd_parser'");
  });

  it('removes every per-object module when the patch is disabled, then the main module can go', () => {
    const lines = run.cases.get('lifecycle')!;
    const mods = lsmods(lines);
    expect(lines).toContain("livepatch: 'klpd_fix': unpatching complete");
    expect(mods[5]).toEqual(['klpd_counter', 'klpd_fix', 'klpd_parser', 'klpd_ticker']);
    expect(lines.filter((l) => l.startsWith('out ') && l.includes('live patched'))).toHaveLength(1);
    expect(mods[6]).toEqual(['klpd_counter', 'klpd_parser', 'klpd_ticker']);
    expect(statuses(lines).every((s) => s.endsWith('-> 0'))).toBe(true);
  });

  it('refuses a per-object module loaded by hand without its main module or without its target', () => {
    const lines = run.cases.get('by-hand')!;
    const st = statuses(lines);
    // The per-object modules use the main module's export of 'verbose' (named per patch, klpd_fix_verbose, so two
    // versions of the patch do not collide): without the main module the
    // loader refuses them before klp_add_object() could say "patch 'klpd_fix' is not loaded".
    expect(st[1]).toMatch(/^insmod .*klpd-fix__klpd-counter\.ko -> 1$/);
    expect(lines).toContain('klpd_fix__klpd_counter: Unknown symbol klpd_fix_verbose (err -2)');
    expect(st[3]).toBe('modprobe klpd_fix -> 0');
    expect(st[4]).toMatch(/-> 1$/);
    expect(lines).toContain("livepatch: module 'klpd_counter' is not loaded");
    expect(lsmods(lines).at(-1)).toEqual(['klpd_fix']);
  });

  it('refuses a target whose per-object module cannot be loaded, and loads it once the module is there', () => {
    const lines = run.cases.get('missing')!;
    const st = statuses(lines);
    expect(st[2]).toBe('modprobe klpd_parser -> 1');
    expect(lines).toContain('livepatch: Module load failed: klpd_fix__klpd_parser');
    expect(lines).toContain("livepatch: patch 'klpd_fix' failed for module 'klpd_parser', refusing to load module 'klpd_parser'");
    const mods = lsmods(lines);
    expect(mods[0]).toEqual(['klpd_fix']);
    expect(st[4]).toBe('modprobe klpd_parser -> 0');
    expect(mods[1]).toEqual(['klpd_fix', 'klpd_fix__klpd_parser', 'klpd_parser']);
  });
});

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { GuestLine } from '../../packages/nx/src/real-kernel/guest-report.js';
import { exampleBuild } from '../helpers/examples.js';
import { keptLines } from '../helpers/real-kernel.js';
import { splitKernel, type SplitKernel } from '../helpers/split-kernel.js';
import { CASES, splitKernelBatch } from '../real/batches/split-kernel.js';
import { realBatch } from '../real/result.js';
import { qemuRun } from '../real/run-cache.js';

/**
 * The split livepatch kernel: Debian's 6.1 with the project's kernel/patches
 * (scripts/split-kernel.sh, cached by source version and patch hash; a cold
 * build is minutes), booted under qemu (the run's one boot of it). klpd-fix
 * of examples/ is split and built against that kernel's tree (its
 * livepatch.h has the split API, so no overlay), its targets too, and the
 * cases of test/real/batches/split-kernel.ts run there; the assertions below
 * read them from the kernel log.
 */

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

/** A line of the guest's report as this suite reads it: '% cmd', 'out ...', 'rc N', the guest's and the kernel's lines verbatim. */
function shown(l: GuestLine): string {
  if (l.kind === 'cmd') return `% ${l.text}`;
  if (l.kind === 'out') return `out ${l.text}`;
  if (l.kind === 'rc') return `rc ${l.status}`;
  return l.text;
}

const PATCHED_CMDLINE = 'out this has been live patched by klpd-fix';

describe('the split livepatch kernel runs a split built by klp-split', () => {
  let kernel: SplitKernel;
  let cases: Map<string, string[]>;
  let problems: string[];
  let buildRecord: Record<string, unknown>;
  let kos: string[];

  beforeAll(async () => {
    const result = realBatch(splitKernelBatch);
    kernel = await splitKernel();
    const build = await exampleBuild(kernel.kdir);
    kos = [...build.targets, ...build.fixModules];
    buildRecord = JSON.parse(readFileSync(join(build.fix, '.klp-split/build.json'), 'utf8')) as Record<string, unknown>;
    const r = await result;
    // Of the kernel's lines, the livepatch core's and the example modules'.
    cases = new Map([...r.cases].map(([id, lines]) => [id, keptLines(lines, (l) => l.startsWith('livepatch: ') || l.startsWith('klpd_')).map(shown)]));
    problems = [...r.problems, ...[...r.left].map(([id, m]) => `${id} left ${m.join(' ')}`)];
    console.log(`split kernel: scripts/split-kernel.sh ${Math.round(kernel.ms / 1000)} s, ${qemuRun(r)} (shared with ${r.boot.join(', ')})`);
  }, 90 * 60_000);

  it("builds the split against the kernel tree's own split API: an overlay adds at most livepatch_helpers.h, never livepatch.h", () => {
    expect(readFileSync(join(kernel.kdir, 'include/linux/livepatch.h'), 'latin1')).toMatch(/int klp_add_object\(struct klp_object \*obj\);/);
    expect(buildRecord.kdir).toBe(kernel.kdir);
    const overlay = buildRecord.overlayInclude as string | undefined;
    if (overlay) {
      expect(existsSync(join(overlay, 'linux/livepatch.h'))).toBe(false);
      expect(existsSync(join(overlay, 'linux/livepatch_helpers.h'))).toBe(true);
    }
    expect(kos.map((k) => k.replace(/.*\//, '')).sort()).toEqual(
      ['klpd-counter.ko', 'klpd-fix.ko', 'klpd-fix__klpd-counter.ko', 'klpd-fix__klpd-parser.ko', 'klpd-fix__klpd-ticker.ko', 'klpd-parser.ko', 'klpd-ticker.ko'],
    );
    for (const ko of kos) expect(existsSync(ko)).toBe(true);
  });

  it('runs every case to its end', () => {
    expect(problems).toEqual([]);
    expect([...cases.keys()]).toEqual(CASES.map((c) => c.id));
  });

  it('loads the per-object modules of loaded targets with the patch, and of targets loaded later with them', () => {
    const lines = cases.get('lifecycle')!;
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
    const lines = cases.get('lifecycle')!;
    const mods = lsmods(lines);
    expect(lines).toContain("livepatch: reverting patch 'klpd_fix' on unloading module 'klpd_parser'");
    expect(mods[3]).toEqual(['klpd_counter', 'klpd_fix', 'klpd_fix__klpd_counter', 'klpd_fix__klpd_ticker', 'klpd_ticker']);
    expect(lines).toContain('objects klpd_counter klpd_ticker vmlinux');
    expect(mods[4]).toContain('klpd_fix__klpd_parser');
    expect(lines).toContain("livepatch: applying patch 'klpd_fix' to loading module 'klpd_parser'");
  });

  it('removes every per-object module when the patch is disabled, then the main module can go', () => {
    const lines = cases.get('lifecycle')!;
    const mods = lsmods(lines);
    expect(lines).toContain("livepatch: 'klpd_fix': unpatching complete");
    expect(mods[5]).toEqual(['klpd_counter', 'klpd_fix', 'klpd_parser', 'klpd_ticker']);
    expect(lines.filter((l) => l.startsWith('out ') && l.includes('live patched'))).toHaveLength(1);
    expect(mods[6]).toEqual(['klpd_counter', 'klpd_parser', 'klpd_ticker']);
    expect(statuses(lines).every((s) => s.endsWith('-> 0'))).toBe(true);
  });

  it('refuses a per-object module loaded by hand without its main module or without its target', () => {
    const lines = cases.get('by-hand')!;
    const st = statuses(lines);
    // The per-object modules use the main module's export of 'verbose' (named per patch, klpd_fix_verbose, so two
    // versions of the patch do not collide): without the main module the
    // loader refuses them before klp_add_object() could say "patch 'klpd_fix' is not loaded".
    expect(st[1]).toBe('insmod klpd_fix__klpd_counter -> 1');
    expect(lines).toContain('klpd_fix__klpd_counter: Unknown symbol klpd_fix_verbose (err -2)');
    expect(st[3]).toBe('modprobe klpd_fix -> 0');
    expect(st[4]).toMatch(/-> 1$/);
    expect(lines).toContain("livepatch: module 'klpd_counter' is not loaded");
    expect(lsmods(lines).at(-1)).toEqual(['klpd_fix']);
  });

  it('refuses a target whose per-object module cannot be loaded, and loads it once the module is there', () => {
    const lines = cases.get('missing')!;
    const st = statuses(lines);
    expect(st[1]).toBe('modprobe klpd_parser -> 1');
    expect(lines).toContain('livepatch: Module load failed: klpd_fix__klpd_parser');
    expect(lines).toContain("livepatch: patch 'klpd_fix' failed for module 'klpd_parser', refusing to load module 'klpd_parser'");
    const mods = lsmods(lines);
    expect(mods[0]).toEqual(['klpd_fix']);
    expect(st[2]).toBe('modprobe klpd_parser -> 0');
    expect(mods[1]).toEqual(['klpd_fix', 'klpd_fix__klpd_parser', 'klpd_parser']);
  });
});

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { corpusModules } from '../helpers/corpus.js';
import { klpSplit, removeDir, tempDir } from '../helpers/env.js';
import { exampleBuild, type ExampleBuild } from '../helpers/examples.js';
import { klpSplitInProcess } from '../helpers/in-process.js';
import { splitKernel } from '../helpers/split-kernel.js';

/**
 * `klp-split simulate --real-kernel split`: the example workspace's klpd-fix,
 * split and built against the split kernel's tree, run by one scenario in
 * the simulator and on the split kernel under qemu; both transcripts side by
 * side. Built against Debian's stock headers instead, the same modules carry
 * the wrong version magic for the split kernel: the simulator (which does
 * not model vermagic) loads them, the kernel refuses them, and the command
 * says the two differ (exit 1). With --upstream, the kernel's
 * livepatch-sample runs on Debian's stock 6.1 image. Each run is a boot of
 * its own: the command under test boots the kernel itself.
 */
const SCENARIO = [
  '# klpd-fix on the split kernel: per-object modules with their targets',
  'modprobe klpd_counter',
  'modprobe klpd_fix',
  '@lsmod',
  'modprobe klpd_parser',
  '@lsmod',
  'rmmod klpd_parser',
  '@lsmod',
  'echo 0 > /sys/kernel/livepatch/klpd_fix/enabled',
  '@lsmod',
  '',
].join('\n');

describe('klp-split simulate --real-kernel', () => {
  let dir: string;
  /** The example built for the split kernel's tree and for Debian's headers (shared fixtures). */
  const builds: Record<'split' | 'stock', ExampleBuild> = {} as Record<'split' | 'stock', ExampleBuild>;
  const args = (tree: 'split' | 'stock'): string[] => [
    'simulate',
    builds[tree].fix,
    ...builds[tree].targets.flatMap((t) => ['--target', t]),
    '--scenario',
    join(dir, 'steps.scenario'),
    '--real-kernel',
    'split',
  ];

  beforeAll(async () => {
    const kernel = await splitKernel();
    dir = tempDir('simulate-real');
    writeFileSync(join(dir, 'steps.scenario'), SCENARIO);
    [builds.split, builds.stock] = await Promise.all([exampleBuild(kernel.kdir), exampleBuild()]);
  }, 60 * 60_000);
  afterAll(() => {
    if (dir) removeDir(dir);
  });

  it('agrees with the split kernel: both transcripts side by side, the module lists of @lsmod included, exit 0', async () => {
    const r = await klpSplit(args('split'));
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/^ {2}simulator +\| real kernel \(split: 6\.1\.\d+-klp-split\)$/);
    // The left column is 64 characters wide; a longer line is cut there with '…'.
    const both = (l: string): string => `  ${l.length > 64 ? `${l.slice(0, 63)}…` : l.padEnd(64)} | ${l}`;
    expect(lines).toContain(both('% modprobe klpd_fix'));
    expect(lines).toContain(both('lsmod klpd_counter klpd_fix klpd_fix__klpd_counter'));
    expect(lines).toContain(both("livepatch: reverting patch 'klpd_fix' on unloading module 'klpd_parser'"));
    expect(lines).toContain(both('lsmod klpd_counter klpd_fix'));
    expect(lines.filter((l) => /^[<>]/.test(l))).toEqual([]);
    expect(lines.at(-1)).toMatch(/^agree: \d+ lines \(qemu run [\d.]+ s\)$/);
  }, 15 * 60_000);

  it("exits 1 when the kernel refuses what the simulator loads (modules built for another kernel's version magic)", async () => {
    const r = await klpSplit(args('stock'));
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(1);
    const lines = r.stdout.split('\n');
    // The kernel's modprobe refuses the module (vermagic); the simulator loaded it.
    expect(lines.some((l) => /^> +\| modprobe: ERROR: could not insert 'klpd_counter': Exec format error$/.test(l))).toBe(true);
    expect(lines.some((l) => /^< lsmod klpd_counter klpd_fix klpd_fix__klpd_counter +\|$/.test(l))).toBe(true);
    expect(lines.at(-1)).toMatch(/^DIFFER: \d+ line\(s\) only in the simulator \(<\), \d+ only on the real kernel \(>\)/);
  }, 15 * 60_000);

  it('runs a classic livepatch on the stock kernel with --upstream --real-kernel stock, and agrees', async () => {
    // The sample built unmodified, as a classic livepatch (the shared corpus fixture).
    const sample = (await corpusModules()).ko('livepatch-sample');
    writeFileSync(
      join(dir, 'classic.scenario'),
      ['modprobe livepatch_sample', '@lsmod', 'echo 0 > /sys/kernel/livepatch/livepatch_sample/enabled', 'rmmod livepatch_sample', '@lsmod', ''].join('\n'),
    );
    const r = await klpSplit(['simulate', '--upstream', '--module', sample, '--scenario', join(dir, 'classic.scenario'), '--real-kernel', 'stock']);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/\| real kernel \(stock: 6\.1\.0-\d+-amd64\)$/);
    expect(lines).toContain(`  ${"livepatch: enabling patch 'livepatch_sample'".padEnd(64)} | livepatch: enabling patch 'livepatch_sample'`);
    expect(lines).toContain(`  ${'lsmod livepatch_sample'.padEnd(64)} | lsmod livepatch_sample`);
    expect(lines.filter((l) => /^[<>]/.test(l))).toEqual([]);
    expect(lines.at(-1)).toMatch(/^agree: \d+ lines/);
  }, 15 * 60_000);

  it('refuses what it cannot run: stock with split modules, directives only the simulator knows', async () => {
    // Refused before any boot: the command runs in-process (helpers/in-process.ts).
    const stock = await klpSplitInProcess([...args('split').slice(0, -1), 'stock']);
    expect(stock.code).toBe(2);
    expect(stock.stderr).toContain('--real-kernel stock runs classic livepatches');
    writeFileSync(join(dir, 'race.scenario'), 'modprobe klpd_counter\n@race rmmod klpd_counter\n');
    const race = await klpSplitInProcess([...args('split').map((a) => (a.endsWith('steps.scenario') ? join(dir, 'race.scenario') : a))]);
    expect(race.code).toBe(2);
    expect(race.stderr).toContain('line 2: only the simulator can run this');
  });
});

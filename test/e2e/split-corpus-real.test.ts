import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { klpSplit, removeDir, samples, tempDir } from '../helpers/env.js';
import { realLsmod, simulateOnSplitKernel, splitKernel, type SplitKernel } from '../helpers/split-kernel.js';

/**
 * The corpus on the real split kernel: the kernel's own livepatch samples
 * (Debian's linux-source-6.1, samples/livepatch), each split by klp-split and
 * built against the split kernel's tree with their targets, run by one
 * scenario through `klp-split simulate --real-kernel split` (one qemu boot):
 * targets loaded before and after a patch, removed while patched and loaded
 * again, stacked patches (shadow-fix2 over shadow-fix1), disable and removal.
 * The simulator and the kernel must agree on every line (exit 0), and the
 * module lists of `@lsmod` show the per-object modules coming and going with
 * their targets. (The selftests' modules, atomic replace included, run on
 * this kernel in split-selftests-real.test.ts; the example's klpd-fix in
 * split-kernel.test.ts.)
 */
const LIVEPATCHES = ['livepatch-sample', 'livepatch-callbacks-demo', 'livepatch-shadow-fix1', 'livepatch-shadow-fix2'];
const TARGETS = ['livepatch-callbacks-mod', 'livepatch-shadow-mod'];
const disable = (p: string): string => `echo 0 > /sys/kernel/livepatch/${p}/enabled`;
const SCENARIO = [
  '# the kernel samples, split, on the split kernel',
  'modprobe livepatch_sample',
  '@lsmod',
  disable('livepatch_sample'),
  'rmmod livepatch_sample',
  'modprobe livepatch_callbacks_mod',
  'modprobe livepatch_callbacks_demo',
  '@lsmod',
  'rmmod livepatch_callbacks_mod',
  '@lsmod',
  'modprobe livepatch_callbacks_mod',
  '@lsmod',
  disable('livepatch_callbacks_demo'),
  '@lsmod',
  'rmmod livepatch_callbacks_demo',
  'rmmod livepatch_callbacks_mod',
  'modprobe livepatch_shadow_fix1',
  'modprobe livepatch_shadow_mod',
  '@lsmod',
  'modprobe livepatch_shadow_fix2',
  '@lsmod',
  disable('livepatch_shadow_fix2'),
  'rmmod livepatch_shadow_fix2',
  disable('livepatch_shadow_fix1'),
  '@lsmod',
  'rmmod livepatch_shadow_fix1',
  'rmmod livepatch_shadow_mod',
  '@lsmod',
  '',
].join('\n');

describe('the kernel samples, split by klp-split, on the real split kernel', () => {
  let dir: string;
  let kernel: SplitKernel;
  let out: string;
  let code: number;

  beforeAll(async () => {
    kernel = await splitKernel();
    dir = tempDir('split-corpus-real');
    mkdirSync(join(dir, 'targets'));
    for (const t of TARGETS) cpSync(samples(`${t}.c`), join(dir, 'targets', `${t}.c`));
    const t = await klpSplit(['build', join(dir, 'targets'), '--kdir', kernel.kdir]);
    expect(t.code, t.stderr).toBe(0);
    for (const lp of LIVEPATCHES) {
      const s = await klpSplit(['split', samples(`${lp}.c`), '--out', join(dir, lp)]);
      expect(s.code, s.stderr).toBe(0);
      const b = await klpSplit(['build', join(dir, lp), '--kdir', kernel.kdir]);
      expect(b.code, b.stderr).toBe(0);
    }
    writeFileSync(join(dir, 'steps.scenario'), SCENARIO);
    ({ code, out } = await simulateOnSplitKernel(
      LIVEPATCHES.map((lp) => join(dir, lp)),
      TARGETS.map((tg) => join(dir, 'targets', `${tg}.ko`)),
      join(dir, 'steps.scenario'),
    ));
  }, 60 * 60_000);
  afterAll(() => {
    if (dir) removeDir(dir);
  });

  it('the simulator and the split kernel agree on every line (exit 0)', () => {
    expect(code, out).toBe(0);
    expect(out.split('\n').filter((l) => /^[<>]/.test(l))).toEqual([]);
    expect(out).toMatch(/^agree: \d+ lines \(qemu run [\d.]+ s\)$/m);
  });

  it('the per-object modules come and go with their targets, with the patches, and with disable', () => {
    expect(realLsmod(out)).toEqual([
      'lsmod livepatch_sample',
      'lsmod livepatch_callbacks_demo livepatch_callbacks_demo__livepatch_callbacks_mod livepatch_callbacks_mod',
      'lsmod livepatch_callbacks_demo',
      'lsmod livepatch_callbacks_demo livepatch_callbacks_demo__livepatch_callbacks_mod livepatch_callbacks_mod',
      'lsmod livepatch_callbacks_demo livepatch_callbacks_mod',
      'lsmod livepatch_shadow_fix1 livepatch_shadow_fix1__livepatch_shadow_mod livepatch_shadow_mod',
      'lsmod livepatch_shadow_fix1 livepatch_shadow_fix1__livepatch_shadow_mod livepatch_shadow_fix2 livepatch_shadow_fix2__livepatch_shadow_mod livepatch_shadow_mod',
      'lsmod livepatch_shadow_fix1 livepatch_shadow_mod',
      'lsmod',
    ]);
  });
});

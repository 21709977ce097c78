import { exampleBuild } from '../../helpers/examples.js';
import { splitKernel } from '../../helpers/split-kernel.js';
import type { RealBatch } from '../batch.js';

/**
 * test/e2e/split-kernel.test.ts: the example's klpd-fix, split and built
 * against the split kernel's tree with its three targets, on the split
 * kernel: targets loaded before and after the patch, one removed, the patch
 * disabled; a per-object module loaded by hand; one missing.
 */

const disable = 'echo 0 > /sys/kernel/livepatch/klpd_fix/enabled';

export const CASES = [
  {
    id: 'lifecycle',
    steps: [
      'modprobe klpd_counter',
      'modprobe klpd_parser',
      '@lsmod',
      'modprobe klpd_fix',
      '@lsmod',
      '@objects klpd_fix',
      'cat /proc/cmdline',
      'modprobe klpd_ticker',
      '@lsmod',
      '@objects klpd_fix',
      'rmmod klpd_parser',
      '@gone klpd_fix__klpd_parser',
      '@lsmod',
      '@objects klpd_fix',
      'modprobe klpd_parser',
      '@lsmod',
      disable,
      '@gone klpd_fix__klpd_counter',
      '@gone klpd_fix__klpd_parser',
      '@gone klpd_fix__klpd_ticker',
      '@lsmod',
      'cat /proc/cmdline',
      'rmmod klpd_fix',
      '@lsmod',
    ],
  },
  // A per-object module loaded by hand: without its patch, then without its target.
  { id: 'by-hand', steps: ['modprobe klpd_counter', 'insmod klpd_fix__klpd_counter', 'rmmod klpd_counter', 'modprobe klpd_fix', 'insmod klpd_fix__klpd_counter', '@lsmod'] },
  // The patch loads with no target; targets come later; the patch's per-object module is missing for one of them.
  { id: 'missing', steps: ['modprobe klpd_fix', '@hide klpd_fix__klpd_parser', 'modprobe klpd_parser', '@lsmod', '@unhide klpd_fix__klpd_parser', 'modprobe klpd_parser', '@lsmod'] },
];

export const splitKernelBatch: RealBatch = {
  name: 'split-kernel',
  kernel: 'split',
  suite: 'test/e2e/split-kernel.test.ts',
  budgetS: 240,
  async prepare() {
    const { kdir } = await splitKernel();
    const build = await exampleBuild(kdir);
    return { kos: [...build.targets, ...build.fixModules], cases: CASES, data: undefined };
  },
};

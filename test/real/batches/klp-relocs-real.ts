import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { klpSplit, ROOT } from '../../helpers/env.js';
import { sharedFixture } from '../../helpers/fixtures.js';
import type { RealBatch } from '../batch.js';

/**
 * test/e2e/klp-relocs-real.test.ts on Debian's 6.1: klpr-real.ko (a classic
 * livepatch with livepatch relocations, built by `klp-split build`) and
 * klpr-mod.ko (its target), loaded after it (case A) and before it (case B).
 */
const FIXTURES = join(ROOT, 'test/fixtures/klp-relocs');

/** The two modules built (a shared fixture), and what `klp-split build` of the livepatch printed. */
export async function klprModules(): Promise<{ mod: string; lp: string; buildOutput: string }> {
  const dir = await sharedFixture('klpr-real', { files: [join(FIXTURES, 'klpr-mod/klpr-mod.c'), join(FIXTURES, 'livepatches/klpr-real.c')] }, async (d) => {
    mkdirSync(join(d, 'mod'));
    mkdirSync(join(d, 'lp'));
    copyFileSync(join(FIXTURES, 'klpr-mod/klpr-mod.c'), join(d, 'mod/klpr-mod.c'));
    copyFileSync(join(FIXTURES, 'livepatches/klpr-real.c'), join(d, 'lp/klpr-real.c'));
    const m = await klpSplit(['build', join(d, 'mod')]);
    if (m.code !== 0) throw new Error(`building klpr-mod failed:\n${m.stdout}\n${m.stderr}`);
    const b = await klpSplit(['build', join(d, 'lp'), '--target', join(d, 'mod/klpr-mod.ko')]);
    if (b.code !== 0) throw new Error(`building klpr-real failed:\n${b.stdout}\n${b.stderr}`);
    writeFileSync(join(d, 'lp-build.txt'), b.stdout);
  });
  return { mod: join(dir, 'mod/klpr-mod.ko'), lp: join(dir, 'lp/klpr-real.ko'), buildOutput: readFileSync(join(dir, 'lp-build.txt'), 'utf8') };
}

const disable = 'echo 0 > /sys/kernel/livepatch/klpr_real/enabled';
const compute = 'cat /sys/module/klpr_mod/parameters/compute';

export const klprBatch: RealBatch = {
  name: 'klp-relocs-real',
  kernel: 'stock',
  suite: 'test/e2e/klp-relocs-real.test.ts',
  budgetS: 120,
  async prepare() {
    const { mod, lp } = await klprModules();
    return {
      kos: [mod, lp],
      cases: [
        {
          id: 'A',
          steps: ['insmod klpr-real', 'cat /proc/cmdline', '@symbols max_threads console_show', 'insmod klpr-mod', compute, 'rmmod klpr_mod', 'insmod klpr-mod', disable, 'rmmod klpr_real'],
        },
        { id: 'B', steps: ['insmod klpr-mod', 'insmod klpr-real', compute, 'cat /proc/cmdline'] },
      ],
      data: undefined,
    };
  },
};

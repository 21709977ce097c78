import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSplitSystem, type ModuleImage, type SimSystem } from '@klp-split/runtime-sim';
import { corpusSplits, corpusTargets } from '../../helpers/corpus.js';
import { ROOT } from '../../helpers/env.js';
import { splitKernel } from '../../helpers/split-kernel.js';
import type { RealBatch } from '../batch.js';

/**
 * test/e2e/split-selftests-real.test.ts: the project's split-mode goldens of
 * the kernel's livepatch selftests on the split kernel, with the kernel's
 * test livepatches split by klp-split and built against its tree, their
 * targets too.
 */

export const LIVEPATCHES = ['test_klp_callbacks_demo', 'test_klp_callbacks_demo2', 'test_klp_livepatch', 'test_klp_atomic_replace', 'test_klp_state', 'test_klp_state2', 'test_klp_state3'];
export const TARGETS = ['test_klp_callbacks_mod', 'test_klp_callbacks_busy'];

/** The scenarios: id '<script>/<file>' -> file, the split rewrite where there is one. */
export function scenarios(): Map<string, string> {
  const out = new Map<string, string>();
  const callbacks = join(ROOT, 'test/golden/split-callbacks');
  for (const f of readdirSync(callbacks).filter((f) => f.endsWith('.scenario')).sort()) out.set(`test-callbacks/${f.replace(/\.scenario$/, '')}`, join(callbacks, f));
  for (const script of ['test-livepatch', 'test-state', 'test-sysfs', 'test-ftrace']) {
    const dir = join(ROOT, 'test/golden/upstream', script);
    for (const f of readdirSync(dir).filter((f) => f.endsWith('.scenario')).sort()) {
      const rewrite = join(ROOT, 'test/golden/split-selftests', script, f);
      out.set(`${script}/${f.replace(/\.scenario$/, '')}`, existsSync(rewrite) ? rewrite : join(dir, f));
    }
  }
  return out;
}

/** The split modules and targets for the split kernel (shared fixtures) as the simulator loads them. */
export async function splitSelftestSystem(): Promise<SimSystem> {
  const { kdir } = await splitKernel();
  const [splits, targets] = await Promise.all([corpusSplits(kdir), corpusTargets(kdir)]);
  const targetKos = TARGETS.map((t) => targets.ko(t));
  const images: ModuleImage[] = [];
  let base: SimSystem | undefined;
  for (const lp of LIVEPATCHES) {
    const b = splits.build(lp);
    if (b.code !== 0) throw new Error(`klp-split build ${lp} for the split kernel failed:\n${b.stdout}\n${b.stderr}`);
    const loaded = loadSplitSystem(splits.dir(lp), targetKos);
    base ??= loaded.sys;
    images.push(...loaded.parts.map((p) => p.image));
    if (lp === LIVEPATCHES[0]) images.push(...loaded.targets);
  }
  return { ...base!, images };
}

export const splitSelftestsBatch: RealBatch = {
  name: 'split-selftests-real',
  kernel: 'split',
  suite: 'test/e2e/split-selftests-real.test.ts',
  budgetS: 900,
  async prepare() {
    const sys = await splitSelftestSystem();
    const cases = [...scenarios()].map(([id, file]) => ({ id, steps: readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() && !l.startsWith('#')) }));
    return { kos: sys.images.map((i) => i.path), cases, data: undefined };
  },
};

import { beforeAll, describe, expect, it } from 'vitest';
import { klpSplit } from '../helpers/env.js';
import { CORPUS_LIVEPATCHES, corpusModules, corpusSplits, type BuiltModules, type CorpusSplits } from '../helpers/corpus.js';

/** The corpus livepatch's targets, as kernel module names. */
const TARGETS: Record<string, string[]> = {
  'livepatch-shadow-fix1': ['livepatch-shadow-mod'],
  'livepatch-shadow-fix2': ['livepatch-shadow-mod'],
  'livepatch-callbacks-demo': ['livepatch-callbacks-mod', 'livepatch-callbacks-busymod'],
  test_klp_callbacks_demo: ['test_klp_callbacks_mod', 'test_klp_callbacks_busy'],
};

/** Issue 5: verify passes on the split of every corpus livepatch (the shared fixture's splits, built) with its real targets. */
describe('verify on the ten corpus livepatches', () => {
  let targets: BuiltModules;
  let splits: CorpusSplits;

  beforeAll(async () => {
    [targets, splits] = await Promise.all([corpusModules(), corpusSplits()]);
  });

  for (const base of CORPUS_LIVEPATCHES) {
    it(`verifies the split of ${base}`, async () => {
      expect(splits.build(base).code).toBe(0);
      const r = await klpSplit(['verify', splits.dir(base), ...(TARGETS[base] ?? []).flatMap((t) => ['--target', targets.ko(t)]), '--format', 'json']);
      const report = JSON.parse(r.stdout);
      expect(report.diagnostics.filter((d: { severity: string }) => d.severity === 'error'), base).toEqual([]);
      expect(r.code).toBe(0);
      // The model check ran to the end: one group per target (none of these targets uses another's exports).
      const k = TARGETS[base]?.length ?? 0;
      expect(report.exploration.complete).toBe(true);
      expect(report.exploration.groups).toHaveLength(Math.max(1, k));
      expect(report.exploration.states).toBeGreaterThan(1);
      expect(report.exploration.violations).toBe(0);
      console.log(`${base}: ${report.exploration.states} states, ${report.exploration.transitions} transitions, ${report.exploration.ms} ms`);
    });
  }
});

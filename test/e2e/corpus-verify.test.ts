import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCorpusModules, klpSplit, libLivepatch, removeDir, samples, tempDir } from '../helpers/env.js';
import { CORPUS_LIVEPATCHES } from '../helpers/corpus.js';

/** The corpus livepatch's targets, as kernel module names. */
const TARGETS: Record<string, string[]> = {
  'livepatch-shadow-fix1': ['livepatch-shadow-mod'],
  'livepatch-shadow-fix2': ['livepatch-shadow-mod'],
  'livepatch-callbacks-demo': ['livepatch-callbacks-mod', 'livepatch-callbacks-busymod'],
  test_klp_callbacks_demo: ['test_klp_callbacks_mod', 'test_klp_callbacks_busy'],
};

const source = (base: string) => (base.startsWith('test_') ? libLivepatch(`${base}.c`) : samples(`${base}.c`));

/** Issue 5: verify passes on the split of every corpus livepatch with its real targets. */
describe('verify on the ten corpus livepatches', () => {
  const dirs: string[] = [];
  let ko: (name: string) => string;

  beforeAll(async () => {
    const targets = [...new Set(Object.values(TARGETS).flat())];
    const built = await buildCorpusModules(targets.map(source));
    dirs.push(built.dir);
    ko = built.ko;
  });
  afterAll(() => dirs.forEach(removeDir));

  for (const base of CORPUS_LIVEPATCHES) {
    it(`verifies the split of ${base}`, async () => {
      const out = tempDir(base);
      dirs.push(out);
      expect((await klpSplit(['split', source(base), '--out', out])).code).toBe(0);
      expect((await klpSplit(['build', out])).code).toBe(0);
      const targets = (TARGETS[base] ?? []).flatMap((t) => ['--target', ko(t)]);
      const r = await klpSplit(['verify', out, ...targets, '--format', 'json']);
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

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadSplitSystem, newKernel, parseScenario, runScenario, type SimSystem } from '@klp-split/runtime-sim';
import { corpusModules, corpusSplits } from '../helpers/corpus.js';
import { ROOT } from '../helpers/env.js';
import { comparableLines, SELFTEST_SUITES, selftestExpectations, withoutObjMod } from '../helpers/selftests.js';

/**
 * The selftest scenarios of test-livepatch.sh, test-state.sh, test-sysfs.sh
 * and test-ftrace.sh on split modules: each test livepatch split by
 * klp-split and built, the scenarios of test/golden/upstream/<script>/
 * replayed in the simulator's split mode (or their split rewrite from
 * test/golden/split-selftests/<script>/ where the design changes what a step
 * sees). The transcripts must differ from what the selftests expect of the
 * kernel only as docs/split-vs-upstream.md lists. test-shadow-vars.sh loads
 * no livepatch, so it has nothing to split.
 */
const REWRITES = join(ROOT, 'test/golden/split-selftests');

for (const [script, suite] of Object.entries(SELFTEST_SUITES)) {
  if (suite.livepatches.length === 0) continue;
  describe(`${script}.sh on split modules`, () => {
    let sys: SimSystem;
    let expected: Map<string, string[]>;
    const scenarioDir = join(ROOT, 'test/golden/upstream', script);

    beforeAll(async () => {
      const [targets, splits] = await Promise.all([corpusModules(), corpusSplits()]);
      const systems = [];
      for (const lp of suite.livepatches) {
        const build = splits.build(lp);
        expect(build.code, build.stderr).toBe(0);
        systems.push(loadSplitSystem(splits.dir(lp), suite.targets.map((t) => targets.ko(t))));
      }
      sys = { ...systems[0]!.sys, images: [...systems.flatMap((s) => s.parts.map((p) => p.image)), ...systems[0]!.targets] };
      expected = selftestExpectations(`${script}.sh`, suite.vars);
    });

    for (const file of readdirSync(scenarioDir).filter((f) => f.endsWith('.scenario')).sort()) {
      const rewrite = join(REWRITES, script, file);
      const scenario = existsSync(rewrite) ? rewrite : join(scenarioDir, file);
      it(`prints what the selftest expects for ${file}${scenario === rewrite ? ' (split rewrite)' : ''}`, () => {
        const text = readFileSync(scenario, 'utf8');
        const name = /^# [\w-]+\.sh: (.*)$/m.exec(text)![1]!;
        const r = runScenario(newKernel(sys), parseScenario(text, scenario));
        expect(r.violations).toEqual([]);
        expect(comparableLines(r.transcript).map(withoutObjMod)).toEqual(comparableLines(expected.get(name)!).map(withoutObjMod));
      });
    }
  });
}

import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { corpusModules, type BuiltModules } from '../helpers/corpus.js';
import { klpSplit, removeDir, ROOT, tempDir } from '../helpers/env.js';
import { comparableLines, SELFTEST_SUITES, selftestExpectations } from '../helpers/selftests.js';

/**
 * The simulator's upstream mode replays test-livepatch.sh, test-state.sh,
 * test-sysfs.sh, test-ftrace.sh and test-shadow-vars.sh (scenarios in
 * test/golden/upstream/<script>/) on the unmodified test modules and prints
 * the livepatch lines, commands, errors and callback calls the selftests
 * expect from the real kernel (which the real-kernel suite shows it prints);
 * the sysfs checks of test-sysfs.sh are @sysfs steps, a mismatch fails the run.
 */
for (const [script, suite] of Object.entries(SELFTEST_SUITES)) {
  const modules = [...suite.livepatches, ...suite.targets];
  describe(`upstream mode against ${script}.sh`, () => {
    let built: BuiltModules;
    let expected: Map<string, string[]>;
    const dir = join(ROOT, 'test/golden/upstream', script);

    beforeAll(async () => {
      built = await corpusModules();
      expected = selftestExpectations(`${script}.sh`, suite.vars);
    });

    it('ports every test of the script', () => {
      const names = readdirSync(dir).map((f) => /^# [\w-]+\.sh: (.*)$/m.exec(readFileSync(join(dir, f), 'utf8'))![1]);
      expect(names.sort()).toEqual([...expected.keys()].sort());
    });

    for (const file of readdirSync(dir).filter((f) => f.endsWith('.scenario')).sort()) {
      it(`prints what the kernel printed for ${file}`, async () => {
        const scenario = join(dir, file);
        const name = /^# [\w-]+\.sh: (.*)$/m.exec(readFileSync(scenario, 'utf8'))![1]!;
        const r = await klpSplit(['simulate', '--upstream', ...modules.flatMap((m) => ['--module', built.ko(m)]), '--scenario', scenario, '--json']);
        expect(r.code, r.stderr).toBe(0);
        expect(comparableLines(JSON.parse(r.stdout).transcript)).toEqual(comparableLines(expected.get(name)!));
      });
    }
  });
}

describe('simulate --upstream on bad input', () => {
  it('points at the scenario line it cannot read, and names a missing kallsyms dump', async () => {
    const dir = tempDir('bad-scenario');
    try {
      const scenario = join(dir, 'bad.scenario');
      // A module file that exists: the arguments are checked before the scenario is read.
      writeFileSync(join(dir, 'none.ko'), '');
      writeFileSync(scenario, 'modprobe test_klp_livepatch\n  echo 2 > /sys/kernel/livepatch/test_klp_livepatch/enabled\n');
      const bad = await klpSplit(['simulate', '--upstream', '--module', join(dir, 'none.ko'), '--scenario', scenario]);
      // A scenario that does not parse is bad input (exit 2), not a finding.
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain(`${scenario}:2:3: error: cannot read 'echo 2 > /sys/kernel/livepatch/test_klp_livepatch/enabled'`);
      writeFileSync(scenario, 'modprobe test_klp_livepatch\n');
      const noDump = await klpSplit(['simulate', '--upstream', '--module', join(dir, 'none.ko'), '--scenario', scenario, '--kallsyms', join(dir, 'kallsyms.txt')]);
      expect(noDump.code).toBe(2);
      expect(noDump.stderr).toContain(`${join(dir, 'kallsyms.txt')}: error: simulate: --kallsyms does not exist [input-missing]`);
    } finally {
      removeDir(dir);
    }
  });
});

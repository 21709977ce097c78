import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { corpusModules, type BuiltModules } from '../helpers/corpus.js';
import { klpSplit, ROOT } from '../helpers/env.js';
import { comparableLines, selftestExpectations, withoutObjMod } from '../helpers/selftests.js';

/**
 * The simulator's upstream (unsplit) mode replays test-callbacks.sh on the
 * unmodified test modules and must print the kernel's own livepatch lines,
 * commands and tool errors, in order, as the selftest expects them.
 */
const SCENARIOS = join(ROOT, 'test/golden/split-callbacks');
const MODULES = ['test_klp_callbacks_demo', 'test_klp_callbacks_demo2', 'test_klp_callbacks_mod', 'test_klp_callbacks_busy'];

describe('upstream mode against test-callbacks.sh', () => {
  let built: BuiltModules;
  let expected: Map<string, string[]>;

  beforeAll(async () => {
    built = await corpusModules();
    expected = selftestExpectations('test-callbacks.sh', {
      MOD_LIVEPATCH: 'test_klp_callbacks_demo',
      MOD_LIVEPATCH2: 'test_klp_callbacks_demo2',
      MOD_TARGET: 'test_klp_callbacks_mod',
      MOD_TARGET_BUSY: 'test_klp_callbacks_busy',
    });
  });

  /** docs/split-vs-upstream.md: where the split transcripts may differ from the kernel's. */
  const SPLIT_DIFFERENCES: Record<string, { upstreamOnly: string[]; splitOnly: string[] }> = {
    '07-module-coming-pre-patch-callback-enodev.scenario': {
      upstreamOnly: ["modprobe: ERROR: could not insert 'test_klp_callbacks_mod': No such device"],
      splitOnly: ['livepatch: Module load failed: test_klp_callbacks_demo__test_klp_callbacks_mod', "modprobe: ERROR: could not insert 'test_klp_callbacks_mod': Invalid argument"],
    },
  };

  for (const file of readdirSync(SCENARIOS).filter((f) => f.endsWith('.scenario')).sort()) {
    it(`differs in split mode only as documented for ${file}`, () => {
      const name = /^# test-callbacks\.sh: (.*)$/m.exec(readFileSync(join(SCENARIOS, file), 'utf8'))![1]!;
      const upstream = comparableLines(expected.get(name)!).map(withoutObjMod);
      const split = comparableLines(readFileSync(join(SCENARIOS, file.replace(/\.scenario$/, '.transcript')), 'utf8').split('\n')).map(withoutObjMod);
      const allowed = SPLIT_DIFFERENCES[file] ?? { upstreamOnly: [], splitOnly: [] };
      expect(upstream.filter((l) => !split.includes(l))).toEqual(allowed.upstreamOnly);
      expect(split.filter((l) => !upstream.includes(l))).toEqual(allowed.splitOnly);
      expect(split.filter((l) => !allowed.splitOnly.includes(l))).toEqual(upstream.filter((l) => !allowed.upstreamOnly.includes(l)));
    });
  }

  for (const file of readdirSync(SCENARIOS).filter((f) => f.endsWith('.scenario')).sort()) {
    it(`prints what the kernel printed for ${file}`, async () => {
      const scenario = join(SCENARIOS, file);
      const name = /^# test-callbacks\.sh: (.*)$/m.exec(readFileSync(scenario, 'utf8'))![1]!;
      const want = expected.get(name);
      expect(want, name).toBeDefined();
      const r = await klpSplit(['simulate', '--upstream', ...MODULES.flatMap((m) => ['--module', built.ko(m)]), '--scenario', scenario, '--json']);
      expect(r.code, r.stderr).toBe(0);
      // The callbacks' calls are compared too, in order, with the target's module state.
      expect(comparableLines(want!).filter((l) => /^\w+: \w+_callback: /.test(l)).length).toBeGreaterThan(0);
      expect(comparableLines(JSON.parse(r.stdout).transcript)).toEqual(comparableLines(want!));
    });
  }
});

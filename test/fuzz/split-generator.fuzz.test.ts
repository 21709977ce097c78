import { afterAll, describe, expect, it } from 'vitest';
import { kernelIncludeDirs, removeDir, tempDir } from '../helpers/env.js';
import { compileSample, runGenerated } from '../generator/run-generated.js';
import { fuzzCases, fuzzSeeds } from './rng.js';

/**
 * The long run of test/split-generator.test.ts, for `npm run fuzz`
 * (FUZZ_LONG=1): 20,000 generated livepatches through the oracles and 120
 * through the compiler, over seeds other than the short run's. Skipped
 * otherwise: the short run is part of every test run already.
 */
const LONG = process.env.FUZZ_LONG === '1';
const SEEDS = fuzzSeeds([0x21b0_0001, 0x21b0_0002, 0x21b0_0003, 0x21b0_0004]);
const root = tempDir('generated-long');
afterAll(() => removeDir(root));

describe.skipIf(!LONG)('generated livepatches, long run', () => {
  it('split as the oracles require', { timeout: 3_600_000 }, () => {
    const stats = runGenerated(root, SEEDS, fuzzCases(5000), kernelIncludeDirs());
    console.log(`generated (long): ${stats.cases} cases (${stats.split} split, ${stats.refused} refused) in ${stats.ms} ms (${stats.cpuMs} ms of CPU)`);
    expect(stats.failures.slice(0, 60)).toEqual([]);
  });

  it('compile, originals and splits alike (120 of them, one kbuild run per 40)', { timeout: 3_600_000 }, async () => {
    const failures: string[] = [];
    for (let batch = 0; batch < 3; batch++) {
      const r = await compileSample(`${root}/b${batch}`, SEEDS[batch % SEEDS.length]!, Array.from({ length: 40 }, (_, i) => 1000 + i), kernelIncludeDirs());
      failures.push(...r.failures);
    }
    expect(failures.slice(0, 60)).toEqual([]);
  });
});

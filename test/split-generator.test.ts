import { afterAll, describe, expect, it } from 'vitest';
import { fuzzCases, fuzzSeeds } from './fuzz/rng.js';
import { kernelIncludeDirs, removeDir, tempDir } from './helpers/env.js';
import { QUICK } from './tiers.js';
import { compileSample, runGenerated } from './generator/run-generated.js';

/**
 * Issue 21's property test: generated livepatches (test/generator/) split,
 * checked in-process by the oracles on thousands of them, and a sample
 * through the real compiler in one kbuild run. FUZZ_SEED/FUZZ_CASE replay
 * one case; FUZZ_COUNT widens the in-process run; the long run is
 * test/fuzz/split-generator.fuzz.test.ts (FUZZ_LONG=1).
 */
const SEEDS = fuzzSeeds([0x21a0_0001, 0x21a0_0002]);
const root = tempDir('generated');
afterAll(() => removeDir(root));

describe('generated livepatches', () => {
  it('split into parts that parse, balance their preprocessor, declare what they use and reference only their own object', { timeout: 600_000 }, () => {
    const stats = runGenerated(root, SEEDS, fuzzCases(800), kernelIncludeDirs());
    console.log(`generated: ${stats.cases} cases (${stats.split} split, ${stats.refused} refused) in ${stats.ms} ms (${stats.cpuMs} ms of CPU)`);
    expect(stats.failures.slice(0, 40)).toEqual([]);
    expect(stats.split).toBeGreaterThan(stats.cases * 0.9);
  });

  // kbuild is not the quick tier's (test/tiers.ts): `npm test` compiles the sample.
  it.skipIf(QUICK)('compile, originals and splits alike, in one kbuild run (a sample)', { timeout: 1_800_000 }, async () => {
    const sample = process.env.FUZZ_CASE ? fuzzCases(0) : Array.from({ length: Number(process.env.FUZZ_COMPILE ?? 20) }, (_, i) => i);
    // The compile's outcome is a shared fixture keyed by every original's and split's text (and the tool, headers, gcc).
    const r = await compileSample(root, SEEDS[0]!, sample, kernelIncludeDirs(), 'generated-compile');
    console.log(`generated: ${r.units} modules compiled in ${r.ms} ms`);
    expect(r.failures.slice(0, 40)).toEqual([]);
  });
});

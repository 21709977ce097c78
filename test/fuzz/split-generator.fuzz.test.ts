import { appendFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { kernelIncludeDirs, removeDir, tempDir } from '../helpers/env.js';
import { compileSample, runGenerated } from '../generator/run-generated.js';
import { fuzzSeeds, hex } from './rng.js';

/**
 * The long run of test/split-generator.test.ts: `npm run fuzz` (class
 * `split-generator` of scripts/fuzz-report.mjs) or FUZZ_LONG=1. Generated
 * livepatches through the oracles, 25 per unit of FUZZ_COUNT and seed (an
 * in-process split is cheap: 5,000 per seed at the report's 200), and 120
 * through the compiler (three kbuild runs of 40), on seeds other than the
 * short run's. Skipped otherwise: the short run is part of every test run.
 */
const LONG = process.env.FUZZ_LONG === '1' || !!process.env.FUZZ_REPORT;
const SEEDS = fuzzSeeds([0x21b0_0001, 0x21b0_0002, 0x21b0_0003, 0x21b0_0004]);
const PER_SEED = process.env.FUZZ_CASE ? process.env.FUZZ_CASE.split(',').map(Number) : Array.from({ length: 25 * Number(process.env.FUZZ_COUNT ?? 200) }, (_, i) => i);
const root = tempDir('generated-long');
afterAll(() => removeDir(root));

describe.skipIf(!LONG)('generated livepatches, long run', () => {
  for (const seed of SEEDS) {
    it(`${PER_SEED.length} livepatches of seed ${hex(seed)} split as the oracles require`, { timeout: 3_600_000 }, () => {
      const stats = runGenerated(root, [seed], PER_SEED, kernelIncludeDirs());
      console.log(`generated (long): ${stats.cases} cases (${stats.split} split, ${stats.refused} refused) in ${stats.ms} ms (${stats.cpuMs} ms of CPU)`);
      const byKind: Record<string, number> = {};
      for (const f of stats.failures) {
        const rule = /\[(\w+)\]/.exec(f.slice(f.indexOf('.c ')))?.[1] ?? 'other';
        byKind[rule] = (byKind[rule] ?? 0) + 1;
      }
      if (process.env.FUZZ_REPORT) {
        const failingInputs = new Set(stats.failures.map((f) => /FUZZ_CASE=(\d+)/.exec(f)?.[1])).size;
        appendFileSync(process.env.FUZZ_REPORT, `${JSON.stringify({ class: 'split-generator', seed: hex(seed), inputs: stats.cases, failingInputs, byKind, examples: stats.failures.slice(0, 5), ms: stats.ms })}\n`);
      }
      expect(stats.failures.slice(0, 60)).toEqual([]);
    });
  }

  it('compile, originals and splits alike (120 of them, one kbuild run per 40)', { timeout: 7_200_000 }, async () => {
    const failures: string[] = [];
    for (let batch = 0; batch < 3; batch++) {
      const r = await compileSample(`${root}/b${batch}`, SEEDS[batch % SEEDS.length]!, Array.from({ length: 40 }, (_, i) => 100_000 + i), kernelIncludeDirs());
      failures.push(...r.failures);
    }
    expect(failures.slice(0, 60)).toEqual([]);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtSplit, type BuiltSplit } from './built-fixture.js';
import { dataFileCase } from './data-file-case.js';
import { describeFailure, fuzzSeed, summary } from './driver.js';
import { fuzzCases, fuzzSeeds, hex } from './rng.js';
import { Sandbox } from './sandbox.js';

/**
 * Fuzzing the build record .klp-split/build.json (verify, simulate) of a
 * real built split (livepatch-shadow-fix1 and livepatch-shadow-mod) with
 * structural and textual JSON mutations. Oracles: the common ones, a file
 * that is not JSON refused with exit 2 naming it, no duplicate module
 * verified OK (data-file-case.ts).
 */

const CLASS = 'records';
const SEEDS = fuzzSeeds([0x4ec00001, 0x4ec00002]);
const CASES = fuzzCases(12);

describe('fuzzing .klp-split/build.json', () => {
  let sandbox: Sandbox;
  let built: BuiltSplit;
  beforeAll(async () => {
    sandbox = new Sandbox(CLASS);
    built = await builtSplit();
  });
  afterAll(() => sandbox?.remove());

  it.each(SEEDS.map(hex))(`${CASES.length} mutated files, seed %s: every command stays within the oracles`, async (seedText) => {
    const { failures, figures } = await fuzzSeed(CLASS, Number(seedText), CASES, sandbox, (rng) => dataFileCase(sandbox, rng, built, '.klp-split/build.json'));
    console.log(summary(figures));
    expect(failures.slice(0, 15).map((f) => describeFailure(CLASS, f))).toEqual([]);
  });
});

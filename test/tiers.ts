/**
 * The suites' tiers. `npm test` runs every suite. `npm run test:quick` (the
 * inner loop, KLP_TEST_TIER=quick) runs the packages' unit tests, the
 * project tests of test/*.test.ts and the end-to-end suites of QUICK_E2E
 * (they run on the shared fixtures and a few commands), but not SLOW: no
 * qemu, no kernel build, nothing that takes minutes. A new end-to-end suite
 * runs with `npm test` only until it is listed in QUICK_E2E; a suite that
 * boots qemu or needs the split kernel goes into REAL_KERNEL (test/README.md).
 */

/** Suites that boot a kernel under qemu or build against the split kernel. */
export const REAL_KERNEL = [
  'test/e2e/real-kernel-selftests.test.ts',
  'test/e2e/differential-faults.test.ts',
  'test/e2e/differential-reloc-faults.test.ts',
  'test/e2e/differential-dependent-targets.test.ts',
  'test/e2e/klp-relocs-real.test.ts',
  'test/e2e/split-kernel.test.ts',
  'test/e2e/split-selftests-real.test.ts',
  'test/e2e/split-differential-faults.test.ts',
  'test/e2e/split-corpus-real.test.ts',
  'test/e2e/split-real-kernel.test.ts',
  'test/e2e/simulate-real-kernel.test.ts',
  'test/e2e/create-real.test.ts',
  'test/e2e/create-split-real.test.ts',
  'test/e2e/real-run-cache.test.ts',
];

/** End-to-end suites in the quick tier. */
export const QUICK_E2E = [
  'test/e2e/callbacks-golden.test.ts',
  'test/e2e/split-selftests.test.ts',
  'test/e2e/upstream-callbacks.test.ts',
  'test/e2e/upstream-selftests.test.ts',
  'test/e2e/corpus-verify.test.ts',
  'test/e2e/module-area.test.ts',
  'test/e2e/foundation.test.ts',
  'test/e2e/nx-markers.test.ts',
];

/** Unit and project suites left out of the quick tier: they build modules of their own with kbuild. */
export const SLOW = ['packages/kbuild-gen/src/relocs-convert.test.ts'];

/** The tier of this run: KLP_TEST_TIER=quick is the quick tier; anything else every suite. */
export const QUICK = process.env.KLP_TEST_TIER === 'quick';

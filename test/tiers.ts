/**
 * The suites' tiers. `npm test` runs every suite. `npm run test:quick` (the
 * inner loop) leaves out the suites listed here: those that boot a kernel
 * under qemu or need the split kernel (REAL_KERNEL), and those too slow for
 * the inner loop (SLOW: packing and installing the packages, other kernels,
 * the long fuzzers). A new suite that boots qemu, needs the split kernel or
 * takes more than half a minute goes into one of the lists (test/README.md).
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
  'test/e2e/simulate-real-kernel.test.ts',
];

/** Suites that need neither, but take minutes. */
export const SLOW = [
  'test/e2e/kernel-matrix.test.ts',
  'test/e2e/nx-user-workspace.test.ts',
  'test/e2e/nx-shared-cache.test.ts',
  'test/fuzz/**',
];

/** The tier of this run: KLP_TEST_TIER=quick is the quick tier; anything else every suite. */
export const QUICK = process.env.KLP_TEST_TIER === 'quick';

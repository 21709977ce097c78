import { configDefaults, defineConfig } from 'vitest/config';
import { QUICK, QUICK_E2E, SLOW } from './test/tiers.js';
import { RealKernelLast } from './test/sequencer.js';

export default defineConfig({
  resolve: { conditions: ['source'] },
  // Tests run in Vite's server-side environment, which takes its own conditions: the workspace
  // packages' TypeScript sources, not a dist/ that may be older.
  ssr: { resolve: { conditions: ['source'] } },
  test: {
    // The quick tier (npm run test:quick, test/tiers.ts): no qemu, no kernel build, nothing slow.
    include: QUICK ? ['packages/*/src/**/*.test.ts', 'test/*.test.ts', ...QUICK_E2E] : ['packages/*/src/**/*.test.ts', 'test/**/*.test.ts'],
    exclude: [...configDefaults.exclude, ...(QUICK ? SLOW : [])],
    // No test writes into the checkout (test/checkout-guard.ts); the real-kernel batches of the suites in the run,
    // one boot per kernel beside the suites (test/real/).
    globalSetup: ['test/checkout-guard.ts', ...(QUICK ? [] : ['test/real/global-setup.ts'])],
    testTimeout: 120_000,
    // A suite's beforeAll may wait for a shared fixture another suite is building (test/helpers/fixtures.ts), or for
    // the split kernel, which builds beside the suites on a fresh machine (scripts/test.mjs).
    hookTimeout: 30 * 60_000,
    pool: 'forks',
    // Two at a time on two cores: much of a suite is waiting (kbuild's make reading Makefiles, a child process).
    maxWorkers: 2,
    sequence: { sequencer: RealKernelLast },
  },
});

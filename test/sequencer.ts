import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { REAL_KERNEL } from './tiers.js';

/**
 * vitest's order (failed first, then the slowest of the last run, unknown
 * files by size), with the real-kernel suites last: their batches run from
 * the start beside the other suites (test/real/global-setup.ts), so by the
 * time these suites start, their results are there or nearly so, and no
 * worker sits waiting for a guest.
 */
export class RealKernelLast extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const real = (f: TestSpecification): boolean => REAL_KERNEL.includes(relative(f.project.config.root, f.moduleId));
    return [...sorted.filter((f) => !real(f)), ...sorted.filter(real)];
  }
}

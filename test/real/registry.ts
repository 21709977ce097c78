import type { RealBatch } from './batch.js';
import { createRealBatch, createSplitBatch } from './batches/create-real.js';
import { dependentBatch } from './batches/differential-dependent-targets.js';
import { faultsBatch } from './batches/differential-faults.js';
import { relocFaultsBatch } from './batches/differential-reloc-faults.js';
import { klprBatch } from './batches/klp-relocs-real.js';
import { selftestsBatch } from './batches/real-selftests.js';
import { splitFaultsBatch } from './batches/split-differential-faults.js';
import { splitKernelBatch } from './batches/split-kernel.js';
import { splitSelftestsBatch } from './batches/split-selftests-real.js';

/**
 * Every real-kernel batch, in boot order per kernel: the kernel's own
 * selftests first (they expect a kernel nothing has loaded modules into),
 * and last a batch whose last case pins modules for the rest of the boot
 * (the split faults' forced replace). A new real-kernel suite adds its batch
 * here (test/README.md).
 */
export const REAL_BATCHES: RealBatch[] = [
  selftestsBatch,
  faultsBatch,
  relocFaultsBatch,
  dependentBatch,
  klprBatch,
  createRealBatch,
  splitKernelBatch,
  splitSelftestsBatch,
  createSplitBatch,
  splitFaultsBatch,
];

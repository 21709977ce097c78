import { describeDifferential } from '../helpers/differential.js';
import { faultCases, faultModules, faultsBatch } from '../real/batches/differential-faults.js';

/**
 * Differential faults: livepatch modules generated here, each with one fault,
 * loaded on the real kernel (Debian's 6.1 under qemu, in the run's one boot
 * of that kernel: test/real/batches/differential-faults.ts) and in the
 * simulator's upstream mode. Both must agree on every command's success or
 * failure and on every line the kernel and the tools print.
 */
describeDifferential({ label: 'differential faults', cases: faultCases(), batch: faultsBatch, modules: faultModules, atLeast: 20 });

import { describeDifferential } from '../helpers/differential.js';
import { relocCases, relocFaultModules, relocFaultsBatch } from '../real/batches/differential-reloc-faults.js';

/**
 * Differential faults on livepatch relocations: classic livepatches whose
 * `.klp.rela` / `.klp.sym` entries `klp-split build` wrote, some then edited
 * as a broken tool would have written them, loaded on the real kernel
 * (Debian's 6.1 under qemu, in the run's one boot of that kernel:
 * test/real/batches/differential-reloc-faults.ts) and in the simulator's
 * upstream mode. Both must agree on every command's success or failure and
 * on every line the kernel and the tools print.
 */
describeDifferential({ label: 'differential relocation faults', cases: relocCases(), batch: relocFaultsBatch, modules: relocFaultModules, atLeast: 12 });

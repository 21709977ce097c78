/** The livepatch core, split along the kernel's seams (see livepatch/). */
export { LivepatchCore, LivepatchCore as SplitLivepatch } from './livepatch/core.js';
export type { LivepatchGuards, SimObject, SimPatch } from './livepatch/types.js';

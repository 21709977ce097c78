import type { KlpObjectImage, KlpPatchImage } from '../../klp/structures.js';
import type { LoadedModule, ModuleLoader } from '../loader.js';

/** One object linked to a patch: vmlinux (in the main module) or a per-object module's. */
export interface SimObject {
  /** null for vmlinux. */
  name: string | null;
  /** The livepatch module carrying the object. */
  carrier: LoadedModule;
  image: KlpObjectImage;
  patched: boolean;
}

export interface SimPatch {
  name: string;
  module: LoadedModule;
  image: KlpPatchImage;
  objects: SimObject[];
  enabled: boolean;
  loading: boolean;
  loadedAt: number;
  replace: boolean;
  /** A transition that cannot finish: a task sleeps in a function it patches. */
  stalled?: boolean;
  /**
   * klp_patch.forced: set by a forced transition on the patches it removes
   * (replaced ones, or the patch being disabled); their modules are never
   * put again.
   */
  forced?: boolean;
}

/**
 * The guards the split series needs against its races (spec §4). Each can be
 * switched off (tests only) to show that the model checker finds the race.
 */
export interface LivepatchGuards {
  /** klp_module_coming ignores a failed request when the patch went away meanwhile. */
  patchGone: boolean;
  /** ... or was removed and loaded again (compares load stamps, not names). */
  loadStamps: boolean;
  /** A loaded but unlinked per-object module makes the coming handler return -EBUSY instead of looping. */
  staleModule: boolean;
  /**
   * A forced patch's modules stay pinned for good, its main module and its
   * per-object modules (klp_patch.forced skips module_put()).
   */
  forcedPin: boolean;
}

/** What the mode-specific parts (split.ts, upstream.ts) use of the livepatch core. */
export interface PatchCore {
  readonly kernel: ModuleLoader;
  readonly guards: LivepatchGuards;
  readonly patches: SimPatch[];
  pr(line: string): void;
  findPatch(name: string): SimPatch | undefined;
  objectLoaded(obj: SimObject): boolean;
  initObject(obj: SimObject): number;
  applyToComing(patch: SimPatch, obj: SimObject): number;
  unlinkObject(patch: SimPatch, obj: SimObject, removeCarrier?: boolean): void;
  abortEnable(patch: SimPatch, err: number): number;
  finishEnable(patch: SimPatch): number;
}

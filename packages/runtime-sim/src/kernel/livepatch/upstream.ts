import type { KlpPatchImage } from '../../klp/structures.js';
import { EINVAL } from '../errno.js';
import type { LoadedModule } from '../loader.js';
import type { PatchCore, SimObject, SimPatch } from './types.js';

/**
 * The upstream (unsplit) parts of the livepatch core: every object lives in
 * the patch module (`objs[]`), is checked when the patch is enabled, and is
 * patched by klp_module_coming() when its module loads later; a going module's
 * object stays in the patch, reverted.
 */

/**
 * Upstream klp_enable_patch(): objects without funcs are refused, then klp_init_patch()
 * checks every object (and looks up the loaded ones' functions) before "enabling patch" is printed.
 */
export function upstreamObjects(core: PatchCore, mod: LoadedModule, image: KlpPatchImage): SimObject[] | number {
  if (image.objects!.some((o) => o.funcsMissing)) {
    core.kernel.event('object-without-funcs', 'a klp_object without a funcs array', mod.name);
    return -EINVAL;
  }
  const objects = image.objects!.map((o) => ({ name: o.name ?? null, carrier: mod, image: o, patched: false }));
  for (const obj of objects) {
    const err = core.initObject(obj);
    if (err) return err;
  }
  return objects;
}

/** Upstream klp_module_coming(): patch the loading module's object of every patch. */
export function upstreamComing(core: PatchCore, patch: SimPatch, mod: LoadedModule): number {
  const obj = patch.objects.find((o) => o.name === mod.name);
  if (!obj) return 0;
  const init = core.initObject(obj);
  if (init) core.pr(`failed to initialize patch '${patch.name}' for module '${mod.name}' (${init})`);
  const err = init || core.applyToComing(patch, obj);
  if (err) core.pr(`patch '${patch.name}' failed for module '${mod.name}', refusing to load module '${mod.name}'`);
  return err;
}

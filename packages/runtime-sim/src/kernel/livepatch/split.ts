import type { KlpObjectImage, KlpPatchImage } from '../../klp/structures.js';
import { EBUSY, EEXIST, EINVAL } from '../errno.js';
import type { LoadedModule } from '../loader.js';
import type { Continuation, StepResult } from '../tasks.js';
import type { PatchCore, SimObject, SimPatch } from './types.js';

/**
 * The split series' parts of the livepatch core (spec §4): the per-object
 * requests of klp_enable_patch(), klp_add_object(), and klp_module_coming()'s
 * request-and-rescan loop with its load stamps and stale-module guard. Every
 * request_module() returns to the loader with the state to resume from,
 * because the kernel drops klp_mutex around it and anything may happen
 * meanwhile.
 */

/** How many times klp_module_coming may re-request one module before the loop is reported. */
const COMING_RETRY_LIMIT = 8;

/** MODULE_NAME_LEN on 64-bit: `<patch>__<object>` must be shorter. */
const MODULE_NAME_LEN = 56;

/**
 * klp_enable_patch()'s checks of a split patch before it takes the mutex
 * (the split kernel's klp_check_patch_names(), docs/split-kernel.md): the
 * fields silently, then the names with one line each, all -EINVAL.
 */
export function checkSplitPatch(core: PatchCore, mod: LoadedModule, image: KlpPatchImage): number {
  const obj = image.obj;
  if (!obj || obj.name || !obj.patchName || !obj.modIsThisModule || obj.funcsMissing) {
    core.kernel.event('patch-without-vmlinux-object', 'klp_patch.obj must be the vmlinux object (name NULL) with patch_name, mod and funcs set', mod.name);
    return -EINVAL;
  }
  const problem = patchNameProblem(obj.patchName, mod.name, image.objNames);
  if (!problem) return 0;
  core.pr(problem);
  return -EINVAL;
}

/**
 * klp_check_patch_names() of the split kernel (kernel/patches/0002): the
 * first name it refuses, in its words (after `livepatch: `), or undefined.
 */
export function patchNameProblem(patch: string, module: string, objNames: readonly string[]): string | undefined {
  if (patch !== module) return `patch_name '${patch}' of the vmlinux object is not the name of its module '${module}'`;
  for (const [i, name] of objNames.entries()) {
    if (!name || name === 'vmlinux' || name.includes('.')) return `patch '${patch}': invalid object name '${name}' in obj_names`;
    if (patch.length + 2 + name.length >= MODULE_NAME_LEN) return `patch '${patch}': per-object module name '${patch}__${name}' is too long`;
    if (objNames.indexOf(name) < i) return `patch '${patch}': object '${name}' is listed twice in obj_names`;
  }
  return undefined;
}

/**
 * klp_enable_patch() with the mutex dropped: request `<patch>__<obj>` for
 * each target whose coming notification ran (klp_alive: COMING or LIVE),
 * from `index` on, in obj_names order.
 */
export function requestParts(core: PatchCore, patch: SimPatch, index: number): StepResult {
  const names = patch.image.objNames;
  for (let i = index; i < names.length; i++) {
    // A target the coming handler has seen (klp_alive), even if its own init has not run yet: when
    // the handler ran, this patch was not on the list yet, so requesting the part falls to us.
    const target = core.kernel.modules.get(names[i]!);
    if (!target?.klpAlive) continue;
    const part = `${patch.name}__${names[i]}`;
    return { request: part, cont: { kind: 'enable', patch: patch.name, index: i, part } };
  }
  return checkParts(core, patch, 0);
}

/**
 * Every request done, the mutex re-taken (klp_check_object_linked() for each
 * name, from `index` on): a per-object module that modprobe left loaded but
 * unlinked is stale and fails the patch; one that went away before linking
 * the object of a live target (modprobe found an earlier `<patch>__<obj>`
 * whose removal was pending, and the removal ran or runs since) is requested again,
 * the patch still loading (kernel/patches/0006, found by the model checker).
 */
function checkParts(core: PatchCore, patch: SimPatch, index: number): StepResult {
  const names = patch.image.objNames;
  for (let i = index; i < names.length; i++) {
    const name = names[i]!;
    const err = staleCheck(core, patch, name);
    if (err) return { err: core.abortEnable(patch, err) };
    const part = `${patch.name}__${name}`;
    const carrier = core.kernel.modules.get(part);
    if (!patch.objects.some((o) => o.name === name) && core.kernel.modules.get(name)?.klpAlive && (!carrier || carrier.state === 'GOING')) {
      core.kernel.event('per-object-module-vanished', `'${part}' went away before it linked object '${name}' to '${patch.name}': requested again`, part);
      return { request: part, cont: { kind: 'enable', patch: patch.name, index: i, part, recheck: true } };
    }
  }
  return { err: core.finishEnable(patch) };
}

/**
 * klp_check_object_linked(): after a successful modprobe, `<patch>__<obj>`
 * loaded and LIVE without an object linked to the patch is stale (-EBUSY);
 * one still COMING belongs to a concurrent loader and will link itself.
 */
function staleCheck(core: PatchCore, patch: SimPatch, name: string): number {
  if (patch.objects.some((o) => o.name === name) || !core.kernel.modules.get(name)?.klpAlive) return 0;
  const part = `${patch.name}__${name}`;
  if (core.kernel.modules.get(part)?.state !== 'LIVE') return 0;
  core.pr(`per-object module '${part}' is loaded but not linked to patch '${patch.name}'`);
  core.kernel.event('stale-per-object-module', `'${part}' is loaded but not linked to '${patch.name}'`, part);
  return -EBUSY;
}

/**
 * klp_enable_patch() after request_module() returned: a failed modprobe
 * aborts the whole patch with -EINVAL (modprobe's exit status says nothing
 * of the cause); the modules already linked are unloaded again.
 */
export function enableResume(core: PatchCore, cont: Extract<Continuation, { kind: 'enable' }>, err: number): StepResult {
  const patch = core.findPatch(cont.patch)!;
  if (err) {
    core.pr(`Module load failed: ${cont.part}`);
    return { err: core.abortEnable(patch, -EINVAL) };
  }
  return cont.recheck ? checkParts(core, patch, cont.index) : requestParts(core, patch, cont.index + 1);
}

/**
 * klp_add_object(): a per-object module's init links its object to the
 * loaded patch. The checks in the split kernel's order, each with its line
 * (docs/split-kernel.md); a target loaded after the patch is patched here at
 * once, the pre-patch callback included.
 */
export function addObject(core: PatchCore, mod: LoadedModule, image: KlpObjectImage): number {
  const kernel = core.kernel;
  if (!image.name || !image.patchName || !image.modIsThisModule || image.funcsMissing) return -EINVAL;
  const modname = `${image.patchName}__${image.name}`;
  if (modname.length >= MODULE_NAME_LEN || modname !== mod.name) {
    core.pr(`module '${mod.name}' cannot carry object '${image.name}' of patch '${image.patchName}': it must be named '${modname}'`);
    kernel.event('per-object-module-misnamed', `'${mod.name}' carries object '${image.name}' of patch '${image.patchName}'`, mod.name);
    return -EINVAL;
  }
  const patch = core.findPatch(image.patchName);
  if (!patch) {
    core.pr(`patch '${image.patchName}' is not loaded`);
    kernel.event('patch-not-loaded', `klp_add_object: patch '${image.patchName}' is not loaded`, mod.name);
    return -EINVAL;
  }
  if (!patch.image.objNames.includes(image.name)) {
    core.pr(`object '${image.name}' is not in obj_names of patch '${patch.name}'`);
    kernel.event('object-not-in-obj-names', `klp_add_object: object '${image.name}' is not in obj_names of patch '${patch.name}'`, mod.name);
    return -EINVAL;
  }
  // klp_target_alive(): the target's coming notification has run (it may still be COMING).
  if (!kernel.modules.get(image.name)?.klpAlive) {
    core.pr(`module '${image.name}' is not loaded`);
    kernel.event('target-not-loaded', `klp_add_object: module '${image.name}' is not loaded`, mod.name);
    return -EINVAL;
  }
  if (patch.objects.some((o) => o.name === image.name)) {
    core.pr(`patch '${patch.name}' already has an object for module '${image.name}'`);
    return -EEXIST;
  }
  const obj: SimObject = { name: image.name, carrier: mod, image, patched: false };
  patch.objects.push(obj);
  mod.refcnt++;
  if (patch.loading) return 0;

  const err = core.initObject(obj);
  if (err) {
    core.pr(`failed to initialize patch '${patch.name}' for module '${image.name}' (${err})`);
    core.unlinkObject(patch, obj, false);
    return err;
  }
  const applied = core.applyToComing(patch, obj);
  if (applied) core.unlinkObject(patch, obj, false);
  return applied;
}

/**
 * klp_module_coming() in split mode: the first patch that lists the module
 * and has no object for it gets `<patch>__<module>` requested; after the
 * request the list is scanned again from the start (it may have changed).
 */
export function splitComing(core: PatchCore, mod: LoadedModule, attempts: Record<string, number>): StepResult {
  const kernel = core.kernel;
  for (const patch of core.patches) {
    if (patch.image.objects) continue;
    if (!patch.image.objNames.includes(mod.name) || patch.objects.some((o) => o.name === mod.name)) continue;
    const part = `${patch.name}__${mod.name}`;
    const tries = (attempts[part] ?? 0) + 1;
    attempts[part] = tries;
    if (tries > COMING_RETRY_LIMIT) {
      kernel.event('modprobe-loop', `klp_module_coming keeps requesting '${part}'`, part);
      return { err: refuse(core, patch.name, mod, -EBUSY) };
    }
    return { request: part, cont: { kind: 'coming', attempts, patch: patch.name, stamp: patch.loadedAt, part } };
  }
  return { err: 0 };
}

/**
 * After request_module() returned (its failure is reported whatever
 * happened meanwhile): a patch that went away or was removed and loaded
 * again (its load stamp differs) is skipped; for the same patch a failure,
 * or a per-object module left loaded but unlinked (the stale-module guard),
 * refuses the module; then the rescan.
 */
export function comingResume(core: PatchCore, mod: LoadedModule, cont: Extract<Continuation, { kind: 'coming' }>, err: number): StepResult {
  if (err) core.pr(`Module load failed: ${cont.part}`);
  const still = core.findPatch(cont.patch);
  const skipped = still === undefined ? core.guards.patchGone : core.guards.loadStamps && still.loadedAt !== cont.stamp;
  if (skipped) {
    // Patch churn, not a loop: each such retry needs the patch removed (and loaded again) meanwhile.
    cont.attempts[cont.part] = (cont.attempts[cont.part] ?? 1) - 1;
    return splitComing(core, mod, cont.attempts);
  }
  if (err) {
    if (!still) core.kernel.event('refused-for-gone-patch', `'${mod.name}' was refused because '${cont.part}' failed, though patch '${cont.patch}' was gone by then`, mod.name);
    else if (still.loadedAt !== cont.stamp) core.kernel.event('refused-for-reloaded-patch', `'${mod.name}' was refused because '${cont.part}' failed, though patch '${cont.patch}' had been removed and loaded again by then`, mod.name);
    return { err: refuse(core, cont.patch, mod, -EINVAL) };
  }
  if (still && core.guards.staleModule) {
    const stale = staleCheck(core, still, mod.name);
    if (stale) return { err: refuse(core, cont.patch, mod, stale) };
  }
  // A per-object module not LIVE belongs to a concurrent loader (which links it once its init runs) or is
  // going away: the kernel requests it again until then, a wait rather than a loop.
  const state = core.kernel.modules.get(cont.part)?.state;
  if (state !== undefined && state !== 'LIVE') cont.attempts[cont.part] = (cont.attempts[cont.part] ?? 1) - 1;
  return splitComing(core, mod, cont.attempts);
}

function refuse(core: PatchCore, patch: string, mod: LoadedModule, err: number): number {
  core.pr(`patch '${patch}' failed for module '${mod.name}', refusing to load module '${mod.name}'`);
  return err;
}

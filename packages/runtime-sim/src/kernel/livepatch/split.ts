import type { KlpObjectImage } from '../../klp/structures.js';
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
export const COMING_RETRY_LIMIT = 8;

/** klp_enable_patch() with the mutex dropped: request `<patch>__<obj>` for each live-patchable target, from `index` on. */
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
  return { err: core.finishEnable(patch) };
}

/** klp_enable_patch() after request_module() returned: the first failure aborts the whole patch. */
export function enableResume(core: PatchCore, cont: Extract<Continuation, { kind: 'enable' }>, err: number): StepResult {
  const patch = core.findPatch(cont.patch)!;
  const objName = patch.image.objNames[cont.index]!;
  if (err || !patch.objects.some((o) => o.name === objName)) {
    core.pr(`Module load failed: ${cont.part}`);
    if (!err) core.kernel.event('per-object-not-linked', `'${cont.part}' loaded but did not add object '${objName}' to '${patch.name}'`, cont.part);
    return { err: core.abortEnable(patch, err || -EINVAL) };
  }
  return requestParts(core, patch, cont.index + 1);
}

/** klp_add_object(): a per-object module's init links its object to the loaded patch. */
export function addObject(core: PatchCore, mod: LoadedModule, image: KlpObjectImage): number {
  const kernel = core.kernel;
  const patch = image.patchName ? core.findPatch(image.patchName) : undefined;
  if (!patch) {
    kernel.event('patch-not-loaded', `klp_add_object: patch '${image.patchName}' is not loaded`, mod.name);
    return -EINVAL;
  }
  if (!image.name || !patch.image.objNames.includes(image.name)) {
    kernel.event('object-not-in-obj-names', `klp_add_object: object '${image.name}' is not in obj_names of patch '${patch.name}'`, mod.name);
    return -EINVAL;
  }
  if (!kernel.isLoaded(image.name)) {
    kernel.event('target-not-loaded', `klp_add_object: module '${image.name}' is not loaded`, mod.name);
    return -EINVAL;
  }
  if (patch.objects.some((o) => o.name === image.name)) return -EEXIST;
  const obj: SimObject = { name: image.name, carrier: mod, image, patched: false };
  patch.objects.push(obj);
  mod.refcnt++;
  if (patch.loading) return 0;

  const err = core.initObject(obj);
  if (err) {
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
    if (tries > 1 && kernel.isLoaded(part) && core.guards.staleModule) {
      // A stale per-object module: modprobe succeeds and links nothing (spec §4).
      kernel.event('stale-per-object-module', `'${part}' is loaded but not linked to '${patch.name}'`, part);
      return { err: refuse(core, patch.name, mod, part, -EBUSY) };
    }
    if (tries > COMING_RETRY_LIMIT) {
      kernel.event('modprobe-loop', `klp_module_coming keeps requesting '${part}'`, part);
      return { err: refuse(core, patch.name, mod, part, -EBUSY) };
    }
    return { request: part, cont: { kind: 'coming', attempts, patch: patch.name, stamp: patch.loadedAt, part } };
  }
  return { err: 0 };
}

/**
 * After request_module() returned: a failure refuses the module, unless the
 * patch went away meanwhile or was removed and loaded again (its load stamp
 * differs); then the rescan.
 */
export function comingResume(core: PatchCore, mod: LoadedModule, cont: Extract<Continuation, { kind: 'coming' }>, err: number): StepResult {
  if (err) {
    const still = core.findPatch(cont.patch);
    const same = still !== undefined && (!core.guards.loadStamps || still.loadedAt === cont.stamp);
    if (same || (!still && !core.guards.patchGone)) {
      if (!still) core.kernel.event('refused-for-gone-patch', `'${mod.name}' was refused because '${cont.part}' failed, though patch '${cont.patch}' was gone by then`, mod.name);
      else if (still.loadedAt !== cont.stamp) core.kernel.event('refused-for-reloaded-patch', `'${mod.name}' was refused because '${cont.part}' failed, though patch '${cont.patch}' had been removed and loaded again by then`, mod.name);
      return { err: refuse(core, cont.patch, mod, cont.part, -EINVAL) };
    }
  }
  return splitComing(core, mod, cont.attempts);
}

function refuse(core: PatchCore, patch: string, mod: LoadedModule, part: string, err: number): number {
  core.pr(`Module load failed: ${part}`);
  core.pr(`patch '${patch}' failed for module '${mod.name}', refusing to load module '${mod.name}'`);
  return err;
}

import type { KlpLayout } from '../../klp/layout.js';
import { klpOf, type CallbackKind, type KlpPatchImage } from '../../klp/structures.js';
import { EBUSY, EEXIST, EINVAL } from '../errno.js';
import type { LoadedModule, ModuleInit, ModuleLoader, ModuleNotifier } from '../loader.js';
import { moduleSymbolSource, symposProblem, type SymbolSource } from '../object-symbols.js';
import type { Continuation, StepResult } from '../tasks.js';
import { busyModuleBlocks, patchParams } from './selftest-modules.js';
import { addObject, checkSplitPatch, comingResume, splitComing, enableResume, requestParts } from './split.js';
import { upstreamComing, upstreamObjects } from './upstream.js';
import type { LivepatchGuards, PatchCore, SimObject, SimPatch } from './types.js';

export type { LivepatchGuards, SimObject, SimPatch } from './types.js';

/** MODULE_NAME_LEN on 64-bit: names must be shorter. */
const MODULE_NAME_LEN = 56;

/** What the livepatch core needs of the machine beyond the loader: ftrace's sysctl. */
interface FtraceControl {
  enabled: boolean;
}

/**
 * The livepatch core shared by both modes: klp_enable_patch() (split: with
 * its per-object requests, see split.ts; upstream: every object in the
 * patch module, see upstream.ts), the transition, disable, atomic replace,
 * object initialization and callbacks. It reaches the loader the way the
 * kernel's does: a module notifier for COMING/GOING and the functions a
 * module's init calls (klp_enable_patch(), klp_add_object()). Transitions
 * complete at once unless a task sleeps in a patched function.
 */
export class LivepatchCore implements ModuleNotifier, ModuleInit, PatchCore {
  patches: SimPatch[] = [];
  /** Functions currently patched: `object:old_name` to patch name. */
  patchedFuncs = new Map<string, string>();
  /**
   * What pre-patch callbacks return, per patch, as scenarios decide (the
   * kernel's test livepatches take it from their pre_patch_ret parameter).
   */
  callbackReturns = new Map<string, number>();
  /**
   * Tasks sleeping in functions, as scenarios say (`module:function`); the
   * kernel's busy test module parks one in busymod_work_func when loaded
   * with block_transition=Y.
   */
  sleeping = new Set<string>();
  guards: LivepatchGuards = { patchGone: true, loadStamps: true, staleModule: true, forcedPin: true };
  /**
   * Modules a forced transition pinned for good (klp_patch.forced:
   * module_put() is skipped), to the object they patch (null for a main
   * module). A per-object module is pinned too: its patch is off the list
   * by then, so its target going releases nothing (the split kernel's
   * __klp_free_objects(), docs/split-kernel.md, Removal).
   */
  pinned = new Map<string, string | null>();

  constructor(
    readonly kernel: ModuleLoader,
    readonly layout: KlpLayout,
    readonly vmlinux: SymbolSource,
    readonly ftrace: FtraceControl,
  ) {
    kernel.registerModuleNotifier(this);
    kernel.registerModuleInit(this);
  }

  /**
   * The stale-module guard as posted tested `state & MODULE_STATE_LIVE`,
   * which is 0, so it never fired; true reproduces that defect.
   */
  get postedGuardDefect(): boolean {
    return !this.guards.staleModule;
  }

  set postedGuardDefect(on: boolean) {
    this.guards.staleModule = !on;
  }

  pr(line: string): void {
    this.kernel.printk(`livepatch: ${line}`);
  }

  /** The module's init: klp_enable_patch() for a main module, klp_add_object() for a per-object one. */
  init(mod: LoadedModule): StepResult {
    if (!mod.image.isLivepatch) {
      // Its init calling klp_enable_patch() or klp_add_object() is what the imports say; the kernel then refuses it.
      if (!['klp_enable_patch', 'klp_add_object'].some((f) => mod.image.undefinedSymbols.includes(f))) return { err: 0 };
      this.pr(`module ${mod.name} is not marked as a livepatch module`);
      return { err: -EINVAL };
    }
    const klp = klpOf(mod.image, this.layout);
    if (klp.patch) return this.enablePatch(mod, klp.patch);
    const obj = klp.objects[0];
    if (obj && mod.image.undefinedSymbols.includes('klp_add_object')) return { err: addObject(this, mod, obj) };
    // An init that never calls klp_add_object() links nothing: modprobe succeeds and the module stays
    // loaded, unlinked (what the stale-module guard is for).
    if (!mod.image.undefinedSymbols.includes('klp_add_object')) return { err: 0 };
    this.kernel.event('no-klp-structures', 'livepatch module without a klp_patch or klp_object', mod.name);
    return { err: -EINVAL };
  }

  initResume(_mod: LoadedModule, cont: Continuation, err: number): StepResult {
    if (cont.kind !== 'enable') throw new Error(`livepatch: module init resumed with a ${cont.kind} continuation`);
    return enableResume(this, cont, err);
  }

  findPatch(name: string): SimPatch | undefined {
    return this.patches.find((p) => p.name === name);
  }

  /** klp_enable_patch() up to dropping the mutex: checks, then the patch goes on the list as the loading patch. */
  private enablePatch(mod: LoadedModule, image: KlpPatchImage): StepResult {
    const upstream = image.objects !== undefined;
    if (!upstream) {
      const err = checkSplitPatch(this, mod, image);
      if (err) return { err };
    }
    if (this.patches.some((p) => p.loading || p.stalled)) return { err: -EBUSY };
    if (this.findPatch(mod.name)) return { err: -EEXIST };
    const params = patchParams(this.kernel, mod.name, image);
    if (!this.compatible(image, params.replace)) {
      this.pr(`Livepatch patch (${mod.name}) is not compatible with the already installed livepatches.`);
      return { err: -EINVAL };
    }
    const objects = upstream ? upstreamObjects(this, mod, image) : [{ name: null, carrier: mod, image: image.obj!, patched: false }];
    if (typeof objects === 'number') return { err: objects };
    // Split: printed by __klp_enable_patch() once the per-object modules are loaded and initialized (finishEnable()).
    if (upstream) this.pr(`enabling patch '${mod.name}'`);
    const patch: SimPatch = { name: mod.name, module: mod, image, objects: [], enabled: false, loading: true, loadedAt: mod.loadedAt, replace: params.replace };
    if (params.preRet !== undefined) this.callbackReturns.set(`${mod.name}:pre_patch`, params.preRet);
    this.patches.push(patch);
    // Upstream: every object lives in the patch module; split: vmlinux here, the others in their modules.
    patch.objects.push(...objects);
    return upstream ? { err: this.finishEnable(patch) } : requestParts(this, patch, 0);
  }

  /** klp_enable_patch() after the per-object modules: the mutex re-taken, init, pre-patch callbacks, one transition. */
  finishEnable(patch: SimPatch): number {
    const upstream = patch.image.objects !== undefined;
    const loaded = patch.objects.filter((o) => this.objectLoaded(o));
    for (const obj of upstream ? [] : loaded) {
      const err = this.initObject(obj);
      if (err) return this.abortEnable(patch, err);
    }
    if (!upstream) this.pr(`enabling patch '${patch.name}'`);
    this.pr(`'${patch.name}': initializing patching transition`);
    // Whether a sleeping task keeps the transition from finishing depends on what the functions were before.
    const stalls = loaded.some((o) => this.sleepsIn(o));
    // __klp_enable_patch(): each loaded object's pre-patch callback, then its ftrace handlers.
    const prepared: SimObject[] = [];
    for (const obj of loaded) {
      const pre = this.callback(patch, obj, 'pre_patch');
      if (pre) this.pr(`pre-patch callback failed for object '${obj.name ?? 'vmlinux'}'`);
      else prepared.push(obj);
      const err = pre || this.registerFtrace(obj);
      if (err) {
        if (!pre) this.pr(`failed to patch object '${obj.name ?? 'vmlinux'}'`);
        this.pr(`failed to enable patch '${patch.name}'`);
        this.pr(`'${patch.name}': canceling patching transition, going to unpatch`);
        this.pr(`'${patch.name}': completing unpatching transition`);
        for (const done of prepared) {
          if (done.patched) this.unpatchObject(done);
          this.callback(patch, done, 'post_unpatch');
        }
        this.pr(`'${patch.name}': unpatching complete`);
        return this.abortEnable(patch, err);
      }
      this.patchObject(patch, obj);
    }
    this.pr(`'${patch.name}': starting patching transition`);
    patch.loading = false;
    patch.enabled = true;
    patch.module.refcnt++;
    if (stalls) {
      // A task sleeps in an old function: the transition waits (the module's init returns).
      patch.stalled = true;
      return 0;
    }
    this.completePatching(patch, loaded);
    return 0;
  }

  /** klp_complete_transition() of a patching transition: post-patch callbacks, then the replaced patches go. */
  private completePatching(patch: SimPatch, objects: SimObject[]): void {
    this.pr(`'${patch.name}': completing patching transition`);
    for (const obj of objects) this.callback(patch, obj, 'post_patch');
    this.pr(`'${patch.name}': patching complete`);
    if (patch.replace) this.freeReplaced(patch);
  }

  /**
   * `echo 1 > /sys/kernel/livepatch/<patch>/force` (force_store(),
   * klp_force_transition()): only the patch in transition can be forced
   * (here: a patching transition a sleeping task blocks; unpatching
   * transitions never stall in the simulator). A forced replace marks every
   * patch it replaces forced, so their modules stay pinned.
   */
  force(name: string): number {
    const patch = this.findPatch(name);
    if (!patch?.stalled) return -EINVAL;
    this.pr('forcing remaining tasks to the patched state');
    if (patch.replace) for (const p of this.patches) if (p !== patch) p.forced = true;
    patch.stalled = false;
    this.completePatching(patch, patch.objects.filter((o) => o.patched));
    return 0;
  }

  /** klp_free_patch_finish(): the patch's reference on its module is dropped, unless the patch was forced. */
  private putPatchModule(patch: SimPatch): void {
    if (patch.forced) {
      this.pinned.set(patch.module.name, null);
      if (this.guards.forcedPin) return;
    }
    patch.module.refcnt = Math.max(0, patch.module.refcnt - 1);
  }

  /** Before the object is patched: a task sleeps in code the patch replaces. */
  private sleepsIn(obj: SimObject): boolean {
    const object = obj.name ?? 'vmlinux';
    // A scenario's sleeper is in the original function: klp_check_stack() looks for the code a patch replaces,
    // which is the previous patch's new function once a patch patched it, so it blocks only the first patch.
    const sleeper = (f: string): boolean => this.sleeping.has(`${object}:${f}`) && !this.patchedFuncs.has(`${object}:${f}`);
    const busy = (f: string): boolean => sleeper(f) || busyModuleBlocks(this.kernel, object, f);
    return obj.image.funcs.some((f) => f.oldName !== null && busy(f.oldName));
  }

  /**
   * klp_is_patch_compatible(): a state an installed patch set up must be
   * kept at the same or a newer version; only a cumulative (replace) patch
   * must carry all of them.
   */
  private compatible(image: KlpPatchImage, replace: boolean): boolean {
    return this.patches.every((p) =>
      p.image.states.every((old) => {
        const state = image.states.find((s) => s.id === old.id);
        return state ? state.version >= old.version : !replace;
      }),
    );
  }

  objectLoaded(obj: SimObject): boolean {
    return obj.name === null || this.kernel.isLoaded(obj.name);
  }

  /**
   * klp_module_coming() for one initialized object: its pre-patch callback, its ftrace handlers,
   * then its post-patch callback unless a transition is still running.
   */
  applyToComing(patch: SimPatch, obj: SimObject): number {
    const name = obj.name!;
    this.pr(`applying patch '${patch.name}' to loading module '${name}'`);
    const pre = this.callback(patch, obj, 'pre_patch');
    if (pre) {
      this.pr(`pre-patch callback failed for object '${name}'`);
      return pre;
    }
    const ftrace = this.registerFtrace(obj);
    if (ftrace) {
      this.pr(`failed to apply patch '${patch.name}' to module '${name}' (${ftrace})`);
      this.callback(patch, obj, 'post_unpatch');
      return ftrace;
    }
    this.patchObject(patch, obj);
    if (!patch.stalled) this.callback(patch, obj, 'post_patch');
    return 0;
  }

  /**
   * klp_patch_func(): the first patch of a function registers an ftrace handler, which the
   * kernel refuses (-EBUSY) for livepatch's permanent ops while kernel.ftrace_enabled is 0.
   */
  private registerFtrace(obj: SimObject): number {
    if (this.ftrace.enabled) return 0;
    const object = obj.name ?? 'vmlinux';
    const first = obj.image.funcs.find((f) => f.oldName && !this.patchedFuncs.has(`${object}:${f.oldName}`));
    if (!first) return 0;
    this.pr(`failed to register ftrace handler for function '${first.oldName}' (${-EBUSY})`);
    return -EBUSY;
  }

  /**
   * Atomic replace: the older patches are freed with their per-object modules; their main modules stay for rmmod.
   * After a forced transition they stay pinned: their modules keep the references (klp_free_patch_finish()).
   */
  private freeReplaced(by: SimPatch): void {
    for (const old of this.patches.filter((p) => p !== by)) {
      for (const obj of [...old.objects]) {
        if (obj.patched) this.unpatchObject(obj);
        this.unlinkObject(old, obj);
      }
      old.enabled = false;
      this.patches.splice(this.patches.indexOf(old), 1);
      this.putPatchModule(old);
    }
  }

  abortEnable(patch: SimPatch, err: number): number {
    for (const obj of [...patch.objects].reverse()) {
      if (obj.name === null) continue;
      this.unlinkObject(patch, obj);
    }
    this.patches.splice(this.patches.indexOf(patch), 1);
    return err;
  }

  /** klp_module_coming(): a loading module gets the objects every patch has for it. */
  coming(mod: LoadedModule): StepResult {
    // vmlinux names the kernel's own object, so no module may take the name.
    if (mod.name === 'vmlinux') {
      this.pr('vmlinux.ko: invalid module name');
      return { err: -EINVAL };
    }
    if (mod.image.isLivepatch) return { err: 0 };
    mod.klpAlive = true;
    for (const patch of this.patches) {
      if (!patch.image.objects) continue;
      const err = upstreamComing(this, patch, mod);
      if (err) return { err };
    }
    return splitComing(this, mod, {});
  }

  comingResume(mod: LoadedModule, cont: Continuation, err: number): StepResult {
    if (cont.kind !== 'coming') throw new Error(`livepatch: coming handler resumed with a ${cont.kind} continuation`);
    return comingResume(this, mod, cont, err);
  }

  /** klp_module_going(): revert and free every object named after the module. */
  going(mod: LoadedModule): void {
    if (mod.image.isLivepatch) {
      this.forgetCarrier(mod);
      return;
    }
    mod.klpAlive = false;
    for (const patch of this.patches) {
      const obj = patch.objects.find((o) => o.name === mod.name);
      if (!obj) continue;
      if (obj.patched) {
        if (!patch.stalled) this.callback(patch, obj, 'pre_unpatch');
        this.pr(`reverting patch '${patch.name}' on unloading module '${mod.name}'`);
        this.unpatchObject(obj);
        this.callback(patch, obj, 'post_unpatch');
      }
      // Upstream the object stays in the patch, reverted until the module comes back; split frees it.
      if (!patch.image.objects) this.unlinkObject(patch, obj);
    }
  }

  /** A livepatch module going away: drop the patch or object it carried. */
  private forgetCarrier(mod: LoadedModule): void {
    const idx = this.patches.findIndex((p) => p.module === mod);
    if (idx >= 0) this.patches.splice(idx, 1);
    for (const p of this.patches) p.objects = p.objects.filter((o) => o.carrier !== mod);
  }

  /** Free the object; its per-object module is then removed automatically. */
  unlinkObject(patch: SimPatch, obj: SimObject, removeCarrier = true): void {
    patch.objects = patch.objects.filter((o) => o !== obj);
    if (obj.name === null || obj.carrier === patch.module) return;
    if (patch.forced) {
      this.pinned.set(obj.carrier.name, obj.name);
      if (this.guards.forcedPin) return;
    }
    obj.carrier.refcnt = Math.max(0, obj.carrier.refcnt - 1);
    // The per-object module goes away asynchronously (spec §4).
    if (removeCarrier) this.kernel.pendingRemovals.push(obj.carrier.name);
  }

  /**
   * `echo 1 > /sys/kernel/livepatch/<patch>/enabled` (enabled_store()): a listed patch is enabled
   * (disabling removes it), and writing the state it is in fails; only an unpatching transition could
   * be reversed this way, and those never stall here.
   */
  enable(_name: string): number {
    return -EINVAL;
  }

  /** `echo 0 > /sys/kernel/livepatch/<patch>/enabled`. */
  disable(name: string): number {
    const patch = this.findPatch(name);
    if (!patch || !patch.enabled) return -EINVAL;
    // Another patch's transition (one loading, or one a sleeping task stalls) must end first.
    if (this.patches.some((p) => p.loading || (p.stalled && p !== patch))) return -EBUSY;
    const patched = patch.objects.filter((o) => o.patched);
    if (patch.stalled) {
      // klp_reverse_transition(): the sleeping task is still in the old code, so unpatching can finish.
      this.pr(`'${patch.name}': reversing transition from patching to unpatching`);
      patch.stalled = false;
    } else {
      this.pr(`'${patch.name}': initializing unpatching transition`);
      for (const obj of patched) this.callback(patch, obj, 'pre_unpatch');
    }
    this.pr(`'${patch.name}': starting unpatching transition`);
    for (const obj of patched) this.unpatchObject(obj);
    this.pr(`'${patch.name}': completing unpatching transition`);
    for (const obj of patched) this.callback(patch, obj, 'post_unpatch');
    this.pr(`'${patch.name}': unpatching complete`);
    patch.enabled = false;
    for (const obj of [...patch.objects]) this.unlinkObject(patch, obj);
    this.patches.splice(this.patches.indexOf(patch), 1);
    this.putPatchModule(patch);
    return 0;
  }

  /**
   * klp_init_object(): the object's name and every klp_func are checked first (klp_init_func()),
   * then, when the object is loaded, every old_name must be found in it, honouring old_sympos.
   */
  initObject(obj: SimObject): number {
    const objname = obj.name ?? 'vmlinux';
    if (obj.name !== null && obj.name.length >= MODULE_NAME_LEN) {
      this.kernel.event('object-name-too-long', `object name '${obj.name}' has ${obj.name.length} characters; at most ${MODULE_NAME_LEN - 1} fit`, obj.carrier.name);
      return -EINVAL;
    }
    if (obj.image.funcs.some((f) => !f.oldName || !f.newFunc)) {
      this.kernel.event('invalid-func', `klp_func without old_name or new_func in object '${objname}'`, obj.carrier.name);
      return -EINVAL;
    }
    if (!this.objectLoaded(obj)) return 0;
    // klp_init_object_loaded(): a module object's livepatch relocations first (classic livepatches only; klp-relocs).
    if (obj.name !== null) {
      const err = this.kernel.applyObjectRelocations(obj.carrier, obj.name);
      if (err) return err;
    }
    const symbols = obj.name === null ? this.vmlinux : moduleSymbolSource(this.kernel.modules.get(obj.name)!.image);
    for (const f of obj.image.funcs) {
      if (!f.oldName) continue;
      const count = symbols.count(f.oldName);
      if (count === 0 && !symbols.complete) {
        this.kernel.event('symbol-unchecked', `'${f.oldName}' is not a vmlinux export; without a kallsyms dump it cannot be checked`, obj.carrier.name);
        continue;
      }
      const problem = symposProblem(f.oldName, objname, count, f.sympos);
      if (problem) {
        this.pr(problem.message);
        const detail: Record<string, string> = {
          'old-name-not-found': `'${f.oldName}' is not in '${objname}'`,
          'sympos-ambiguous': `'${f.oldName}' appears ${count} times in '${objname}'; set old_sympos`,
          'sympos-missing': `'${f.oldName}' has ${count} occurrence(s) in '${objname}', old_sympos is ${f.sympos}`,
        };
        this.kernel.event(problem.code, detail[problem.code] ?? problem.message, obj.carrier.name);
        return -EINVAL;
      }
    }
    return 0;
  }

  private patchObject(patch: SimPatch, obj: SimObject): void {
    for (const f of obj.image.funcs) if (f.oldName) this.patchedFuncs.set(`${obj.name ?? 'vmlinux'}:${f.oldName}`, patch.name);
    obj.patched = true;
  }

  private unpatchObject(obj: SimObject): void {
    for (const f of obj.image.funcs) if (f.oldName) this.patchedFuncs.delete(`${obj.name ?? 'vmlinux'}:${f.oldName}`);
    obj.patched = false;
  }

  /** Callbacks are C code the simulator cannot run: it records the call; the scenario says what it returns. */
  callback(patch: SimPatch, obj: SimObject, kind: CallbackKind): number {
    const cb = obj.image.callbacks.find((c) => c.kind === kind);
    if (!cb) return 0;
    // What the callback sees as obj->mod (the kernel's test livepatches print it): the target upstream
    // (NULL for vmlinux), the module carrying the object in split mode (spec §3) - for vmlinux the main
    // module, as the real split kernel showed (docs/split-kernel.md, point 7).
    const split = patch.image.objects === undefined;
    const objMod = obj.name === null ? (split ? obj.carrier : undefined) : obj.carrier === patch.module ? this.kernel.modules.get(obj.name) : obj.carrier;
    const seen = objMod ? ` (obj->mod '${objMod.name}' in MODULE_STATE_${objMod.state})` : '';
    this.kernel.printk(`[callback] ${obj.carrier.name}: ${kind} ${cb.func}() for object '${obj.name ?? 'vmlinux'}'${seen}`);
    return kind === 'pre_patch' ? (this.callbackReturns.get(`${patch.name}:${kind}`) ?? 0) : 0;
  }

  /** The core's state for a copied kernel: module records repointed through `modules`. */
  copyInto(copy: LivepatchCore, modules: Map<LoadedModule, LoadedModule>): void {
    const mod = (m: LoadedModule): LoadedModule => modules.get(m) ?? m;
    copy.patches = this.patches.map((p) => ({ ...p, module: mod(p.module), objects: p.objects.map((o) => ({ ...o, carrier: mod(o.carrier) })) }));
    copy.patchedFuncs = new Map(this.patchedFuncs);
    copy.callbackReturns = new Map(this.callbackReturns);
    copy.sleeping = new Set(this.sleeping);
    copy.guards = { ...this.guards };
    copy.pinned = new Map(this.pinned);
  }
}

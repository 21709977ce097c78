import type { KlpLayout } from '../klp/layout.js';
import { klpOf, type CallbackKind, type KlpObjectImage, type KlpPatchImage } from '../klp/structures.js';
import { EBUSY, EEXIST, EINVAL } from './errno.js';
import type { LoadedModule, SimKernel } from './kernel.js';
import { moduleSymbolSource, symposProblem, type SymbolSource } from './object-symbols.js';

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
}

/** MODULE_NAME_LEN on 64-bit: names must be shorter. */
const MODULE_NAME_LEN = 56;

/** How many times klp_module_coming may re-request one module before the loop is reported. */
const COMING_RETRY_LIMIT = 8;

/**
 * The livepatch core of a kernel carrying the split series (spec §4):
 * klp_enable_patch, klp_add_object, klp_module_coming and klp_module_going,
 * with one transition for the whole patch. Transitions complete at once
 * (no task is left in an old function).
 */
export class SplitLivepatch {
  readonly patches: SimPatch[] = [];
  /** Functions currently patched: `object:old_name` to patch name. */
  readonly patchedFuncs = new Map<string, string>();
  /**
   * What pre-patch callbacks return, per patch, as scenarios decide (the
   * kernel's test livepatches take it from their pre_patch_ret parameter).
   */
  readonly callbackReturns = new Map<string, number>();
  /**
   * The stale-module guard as posted tested `state & MODULE_STATE_LIVE`,
   * which is 0, so it never fired; true reproduces that defect.
   */
  postedGuardDefect = false;

  constructor(
    private readonly kernel: SimKernel,
    private readonly layout: KlpLayout,
    private readonly vmlinux: SymbolSource,
  ) {}

  private pr(line: string): void {
    this.kernel.printk(`livepatch: ${line}`);
  }

  /** The module's init: klp_enable_patch() for a main module, klp_add_object() for a per-object one. */
  initModule(mod: LoadedModule): number {
    if (!mod.image.isLivepatch) {
      // Its init calling klp_enable_patch() is what the import says; the kernel then refuses it.
      if (!mod.image.undefinedSymbols.includes('klp_enable_patch')) return 0;
      this.pr(`module ${mod.name} is not marked as a livepatch module`);
      return -EINVAL;
    }
    const klp = klpOf(mod.image, this.layout);
    if (klp.patch) return this.enablePatch(mod, klp.patch);
    const obj = klp.objects[0];
    if (obj) return this.addObject(mod, obj);
    this.kernel.event('no-klp-structures', 'livepatch module without a klp_patch or klp_object', mod.name);
    return -EINVAL;
  }

  findPatch(name: string): SimPatch | undefined {
    return this.patches.find((p) => p.name === name);
  }

  enablePatch(mod: LoadedModule, image: KlpPatchImage): number {
    if (this.patches.some((p) => p.loading || p.stalled)) return -EBUSY;
    if (this.findPatch(mod.name)) return -EEXIST;
    const replaceParam = this.kernel.param(mod.name, 'replace');
    const replace = replaceParam !== undefined ? replaceParam !== '0' : image.replace;
    if (!this.compatible(image, replace)) {
      this.pr(`Livepatch patch (${mod.name}) is not compatible with the already installed livepatches.`);
      return -EINVAL;
    }
    const upstream = image.objects !== undefined;
    if (!upstream && (!image.obj || image.obj.name !== null)) {
      this.kernel.event('patch-without-vmlinux-object', 'klp_patch.obj must be the vmlinux object (name NULL)', mod.name);
      return -EINVAL;
    }
    // Upstream klp_enable_patch(): objects without funcs are refused, then klp_init_patch() checks
    // every object (and looks up the loaded ones' functions) before "enabling patch" is printed.
    if (upstream && image.objects!.some((o) => o.funcsMissing)) {
      this.kernel.event('object-without-funcs', 'a klp_object without a funcs array', mod.name);
      return -EINVAL;
    }
    const objects: SimObject[] = upstream
      ? image.objects!.map((o) => ({ name: o.name ?? null, carrier: mod, image: o, patched: false }))
      : [{ name: null, carrier: mod, image: image.obj!, patched: false }];
    if (upstream) {
      for (const obj of objects) {
        const err = this.initObject(obj);
        if (err) return err;
      }
    }
    this.pr(`enabling patch '${mod.name}'`);
    const patch: SimPatch = { name: mod.name, module: mod, image, objects: [], enabled: false, loading: true, loadedAt: mod.loadedAt, replace: image.replace };
    // Module code decides some fields at init: the test livepatches copy these parameters.
    patch.replace = replace;
    const preRet = this.kernel.param(mod.name, 'pre_patch_ret');
    if (preRet !== undefined) this.callbackReturns.set(`${mod.name}:pre_patch`, Number(preRet));
    this.patches.push(patch);
    // Upstream: every object lives in the patch module; split: vmlinux here, the others in their modules.
    patch.objects.push(...objects);

    // The mutex is dropped here: per-object modules are requested for every loaded target.
    for (const objName of upstream ? [] : image.objNames) {
      const target = this.kernel.modules.get(objName);
      if (!target || target.state !== 'LIVE') continue;
      const part = `${patch.name}__${objName}`;
      const err = this.kernel.requestModule(part);
      if (err || !patch.objects.some((o) => o.name === objName)) {
        this.pr(`Module load failed: ${part}`);
        if (!err) this.kernel.event('per-object-not-linked', `'${part}' loaded but did not add object '${objName}' to '${patch.name}'`, part);
        return this.abortEnable(patch, err || -EINVAL);
      }
    }

    const loaded = patch.objects.filter((o) => this.objectLoaded(o));
    for (const obj of upstream ? [] : loaded) {
      const err = this.initObject(obj);
      if (err) return this.abortEnable(patch, err);
    }
    this.pr(`'${patch.name}': initializing patching transition`);
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
    mod.refcnt++;
    if (loaded.some((o) => this.sleepsIn(o))) {
      // A task sleeps in an old function: the transition waits (the module's init returns).
      patch.stalled = true;
      return 0;
    }
    this.pr(`'${patch.name}': completing patching transition`);
    for (const obj of loaded) this.callback(patch, obj, 'post_patch');
    this.pr(`'${patch.name}': patching complete`);
    if (patch.replace) this.freeReplaced(patch);
    return 0;
  }

  /**
   * Tasks sleeping in functions, as scenarios say (`module:function`); the
   * kernel's busy test module parks one in busymod_work_func when loaded
   * with block_transition=Y.
   */
  readonly sleeping = new Set<string>();

  private sleepsIn(obj: SimObject): boolean {
    const object = obj.name ?? 'vmlinux';
    const busy = (f: string): boolean => this.sleeping.has(`${object}:${f}`) || (f === 'busymod_work_func' && this.kernel.param(object, 'block_transition') === 'Y');
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

  private objectLoaded(obj: SimObject): boolean {
    return obj.name === null || this.kernel.isLoaded(obj.name);
  }

  /** Upstream klp_module_coming(): patch the loading module's object of every patch. */
  private upstreamComing(patch: SimPatch, mod: LoadedModule): number {
    const obj = patch.objects.find((o) => o.name === mod.name);
    if (!obj) return 0;
    const init = this.initObject(obj);
    if (init) this.pr(`failed to initialize patch '${patch.name}' for module '${mod.name}' (${init})`);
    const err = init || this.applyToComing(patch, obj);
    if (err) this.pr(`patch '${patch.name}' failed for module '${mod.name}', refusing to load module '${mod.name}'`);
    return err;
  }

  /**
   * klp_module_coming() for one initialized object: its pre-patch callback, its ftrace handlers,
   * then its post-patch callback unless a transition is still running.
   */
  private applyToComing(patch: SimPatch, obj: SimObject): number {
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
    if (this.kernel.ftraceEnabled) return 0;
    const object = obj.name ?? 'vmlinux';
    const first = obj.image.funcs.find((f) => f.oldName && !this.patchedFuncs.has(`${object}:${f.oldName}`));
    if (!first) return 0;
    this.pr(`failed to register ftrace handler for function '${first.oldName}' (${-EBUSY})`);
    return -EBUSY;
  }

  /** Atomic replace: the older patches are freed with their per-object modules; their main modules stay for rmmod. */
  private freeReplaced(by: SimPatch): void {
    for (const old of this.patches.filter((p) => p !== by)) {
      for (const obj of [...old.objects]) {
        if (obj.patched) this.unpatchObject(obj);
        this.unlinkObject(old, obj);
      }
      old.enabled = false;
      this.patches.splice(this.patches.indexOf(old), 1);
      old.module.refcnt = Math.max(0, old.module.refcnt - 1);
    }
  }

  private abortEnable(patch: SimPatch, err: number): number {
    for (const obj of [...patch.objects].reverse()) {
      if (obj.name === null) continue;
      this.unlinkObject(patch, obj);
    }
    this.patches.splice(this.patches.indexOf(patch), 1);
    return err;
  }

  addObject(mod: LoadedModule, image: KlpObjectImage): number {
    const patch = image.patchName ? this.findPatch(image.patchName) : undefined;
    if (!patch) {
      this.kernel.event('patch-not-loaded', `klp_add_object: patch '${image.patchName}' is not loaded`, mod.name);
      return -EINVAL;
    }
    if (!image.name || !patch.image.objNames.includes(image.name)) {
      this.kernel.event('object-not-in-obj-names', `klp_add_object: object '${image.name}' is not in obj_names of patch '${patch.name}'`, mod.name);
      return -EINVAL;
    }
    if (!this.kernel.isLoaded(image.name)) {
      this.kernel.event('target-not-loaded', `klp_add_object: module '${image.name}' is not loaded`, mod.name);
      return -EINVAL;
    }
    if (patch.objects.some((o) => o.name === image.name)) return -EEXIST;
    const obj: SimObject = { name: image.name, carrier: mod, image, patched: false };
    patch.objects.push(obj);
    mod.refcnt++;
    if (patch.loading) return 0;

    const err = this.initObject(obj);
    if (err) {
      this.unlinkObject(patch, obj, false);
      return err;
    }
    const applied = this.applyToComing(patch, obj);
    if (applied) this.unlinkObject(patch, obj, false);
    return applied;
  }

  /** klp_module_coming(): request `<patch>__<module>` for each patch that fixes the module. */
  moduleComing(mod: LoadedModule): number {
    // vmlinux names the kernel's own object, so no module may take the name.
    if (mod.name === 'vmlinux') {
      this.pr('vmlinux.ko: invalid module name');
      return -EINVAL;
    }
    if (mod.image.isLivepatch) return 0;
    for (const patch of this.patches) {
      if (!patch.image.objects) continue;
      const err = this.upstreamComing(patch, mod);
      if (err) return err;
    }
    const attempts = new Map<string, number>();
    rescan: for (;;) {
      for (const patch of this.patches) {
        if (patch.image.objects) continue;
        if (!patch.image.objNames.includes(mod.name) || patch.objects.some((o) => o.name === mod.name)) continue;
        const part = `${patch.name}__${mod.name}`;
        const tries = (attempts.get(part) ?? 0) + 1;
        attempts.set(part, tries);
        if (tries > 1 && this.kernel.isLoaded(part) && !this.postedGuardDefect) {
          // A stale per-object module: modprobe succeeds and links nothing (spec §4).
          this.kernel.event('stale-per-object-module', `'${part}' is loaded but not linked to '${patch.name}'`, part);
          return this.refuse(patch, mod, part, -EBUSY);
        }
        if (tries > COMING_RETRY_LIMIT) {
          this.kernel.event('modprobe-loop', `klp_module_coming keeps requesting '${part}'`, part);
          return this.refuse(patch, mod, part, -EBUSY);
        }
        const stamp = patch.loadedAt;
        const err = this.kernel.requestModule(part);
        const still = this.findPatch(patch.name);
        if (err && still && still.loadedAt === stamp) return this.refuse(patch, mod, part, -EINVAL);
        continue rescan;
      }
      return 0;
    }
  }

  private refuse(patch: SimPatch, mod: LoadedModule, part: string, err: number): number {
    this.pr(`Module load failed: ${part}`);
    this.pr(`patch '${patch.name}' failed for module '${mod.name}', refusing to load module '${mod.name}'`);
    return err;
  }

  /** klp_module_going(): revert and free every object named after the module. */
  moduleGoing(mod: LoadedModule): void {
    if (mod.image.isLivepatch) {
      this.forgetCarrier(mod);
      return;
    }
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
  private unlinkObject(patch: SimPatch, obj: SimObject, removeCarrier = true): void {
    patch.objects = patch.objects.filter((o) => o !== obj);
    if (obj.name === null || obj.carrier === patch.module) return;
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
    if (this.patches.some((p) => p.loading)) return -EBUSY;
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
    patch.module.refcnt = Math.max(0, patch.module.refcnt - 1);
    return 0;
  }

  /**
   * klp_init_object(): the object's name and every klp_func are checked first (klp_init_func()),
   * then, when the object is loaded, every old_name must be found in it, honouring old_sympos.
   */
  private initObject(obj: SimObject): number {
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
  private callback(patch: SimPatch, obj: SimObject, kind: CallbackKind): number {
    const cb = obj.image.callbacks.find((c) => c.kind === kind);
    if (!cb) return 0;
    // What the callback sees as obj->mod (the kernel's test livepatches print it): the target upstream,
    // the per-object module carrying the object in split mode (spec §3).
    const objMod = obj.name === null ? undefined : obj.carrier === patch.module ? this.kernel.modules.get(obj.name) : obj.carrier;
    const seen = objMod ? ` (obj->mod '${objMod.name}' in MODULE_STATE_${objMod.state})` : '';
    this.kernel.printk(`[callback] ${obj.carrier.name}: ${kind} ${cb.func}() for object '${obj.name ?? 'vmlinux'}'${seen}`);
    return kind === 'pre_patch' ? (this.callbackReturns.get(`${patch.name}:${kind}`) ?? 0) : 0;
  }
}

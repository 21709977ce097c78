import type { ModuleImage } from '../image/module-image.js';
import { applyKlpObjectRelocations, applyRelocations, klpRelaObjects, relocationLines, type RelocationFinding } from './relocate.js';
import { klpOf } from '../klp/structures.js';
import { symposProblem } from './object-symbols.js';
import { symbolRefusal } from './symbol-checks.js';
import type { KlpLayout } from '../klp/layout.js';
import { EBUSY, EEXIST, EINTR, EINVAL, ENOENT, ENOEXEC, ENOMEM, strerror } from './errno.js';
import { elfConstants as C, type ExportedSymbol } from '@klp-split/kernel-facts';
import type { SymbolSource } from './object-symbols.js';
import { imageSize, ModuleSpace } from './module-space.js';
import type { Continuation, StepResult, Task } from './tasks.js';

/** kmod's insmod words some errors its own way (mod_strerror()). */
const INSMOD_ERRORS: Record<number, string> = {
  [ENOENT]: 'Unknown symbol in module',
  [ENOEXEC]: 'Invalid module format',
  [EINVAL]: 'Invalid parameters',
};

/** Module states of include/linux/module.h. */
/** Whether using `owner`'s exports pins it: not between two livepatch modules (the split kernel's resolve_symbol()). */
export function pins(user: { image: ModuleImage }, owner: { image: ModuleImage }): boolean {
  return !(user.image.isLivepatch && owner.image.isLivepatch);
}

type ModuleState = 'UNFORMED' | 'COMING' | 'LIVE' | 'GOING';

export interface LoadedModule {
  name: string;
  image: ModuleImage;
  state: ModuleState;
  /** Module references taken by others (try_module_get) and by the livepatch core. */
  refcnt: number;
  /** Modules this one uses symbols of. */
  uses: Set<string>;
  /** Monotonic load stamp: tells a reloaded module from the earlier one. */
  loadedAt: number;
  /** Where its sections were placed when its relocations were applied. */
  sectionAddress: Map<number, bigint>;
  /**
   * mod->klp_alive: the livepatch core's coming handler has seen the module
   * (set under klp_mutex when it starts, cleared when the module goes).
   */
  klpAlive?: boolean;
  /**
   * A classic livepatch on the stock kernel: the objects whose `.klp.rela`
   * sections wait for their module (klp_init_object_loaded()), and those
   * already written into this module's text (6.1 never clears them).
   */
  klpDeferred?: Set<string>;
  klpWritten?: Set<string>;
}

/** Where vmlinux's text starts; stands in for exports the kallsyms dump does not place. */
const KERNEL_TEXT = 0xffffffff81000000n;

/**
 * Refusals of a split livepatch module that one classic module would not
 * see: a module's symbols used while that module is absent, and a module's
 * relocation section outside its per-object module; each when the module
 * is not the refused one's own target (a per-object module whose target
 * goes away while it loads is the design's race, and fails the same way
 * for every placement).
 */
const SPLIT_ONLY_REFUSALS = new Set(['klp-object-not-loaded', 'klp-rela-not-carried']);
export { ENOEXEC };

export interface KernelOptions {
  layout: KlpLayout;
  /** vmlinux's exports (Module.symvers entries whose module is vmlinux). */
  vmlinuxExports: Map<string, ExportedSymbol>;
  vmlinuxSymbols: SymbolSource;
  /** Exports a kernel carrying the split series adds (klp_add_object). */
  extraVmlinuxExports?: string[];
}

/** A finding the simulator makes while running (beyond the log). */
export interface SimEvent {
  code: string;
  message: string;
  module?: string;
}

/**
 * A module notifier (register_module_notifier()): the loader calls it when a
 * module reaches MODULE_STATE_COMING, before the module's init, and when it
 * is GOING. A coming handler may stop to request a module; the loader then
 * runs that request (the handler's locks dropped) and resumes it.
 */
export interface ModuleNotifier {
  coming(mod: LoadedModule): StepResult;
  comingResume(mod: LoadedModule, cont: Continuation, err: number): StepResult;
  going(mod: LoadedModule): void;
}

/**
 * What a module's init calls into: the kernel functions it imports
 * (klp_enable_patch(), klp_add_object()) registered by the subsystem that
 * exports them. Like a coming handler, an init may stop at a request_module().
 */
export interface ModuleInit {
  init(mod: LoadedModule): StepResult;
  initResume(mod: LoadedModule, cont: Continuation, err: number): StepResult;
}

/**
 * The module loader: finds modules for modprobe and request_module, resolves
 * their undefined symbols against exports, places them in the module area,
 * runs the module notifiers and the module's init, keeps states and
 * references. Loading runs as tasks (see tasks.ts): a command from the
 * shell runs its task to completion; the model checker steps tasks one
 * interleaving point at a time.
 */
export class ModuleLoader {
  log: string[] = [];
  /** false: printk discards (the model checker keeps no transcript per state). */
  logging = true;
  events: SimEvent[] = [];
  modules = new Map<string, LoadedModule>();
  /** Parameters given to the last modprobe of each module. */
  params = new Map<string, string[]>();
  /** Modules the kernel removes asynchronously (per-object modules whose object was freed). */
  pendingRemovals: string[] = [];
  /** The next command runs before pending asynchronous work (a scenario's `@race`). */
  race = false;
  /**
   * Nothing runs unless asked: no asynchronous work before commands, started
   * commands wait at interleaving points (the model checker, `@interleave`).
   */
  interleaved = false;
  /** Work in flight, by id. */
  tasks = new Map<number, Task>();
  protected nextTask = 1;
  protected repository = new Map<string, ModuleImage>();
  protected clock = 0;
  protected space = new ModuleSpace();
  protected notifiers: ModuleNotifier[] = [];
  protected initCalls: ModuleInit | undefined;
  /** Results of tasks that finished at the top level, for their commands. */
  readonly finished = new Map<number, number>();
  /** A wait that never ends broke the running command: the shell's timeout kills it (no tool error is printed). */
  protected killed = false;

  constructor(readonly opts: KernelOptions) {}

  registerModuleNotifier(n: ModuleNotifier): void {
    this.notifiers.push(n);
  }

  registerModuleInit(init: ModuleInit): void {
    this.initCalls = init;
  }

  isVmlinuxExport(sym: string): boolean {
    return this.opts.vmlinuxExports.has(sym) || (this.opts.extraVmlinuxExports?.includes(sym) ?? false);
  }

  /** Lets the asynchronous work run: pending removals happen. */
  settle(): void {
    while (this.pendingRemovals.length) this.runRemoval(this.pendingRemovals[0]!);
  }

  /** One asynchronous removal of a per-object module, as the kernel's work item does it. */
  runRemoval(name: string): void {
    const i = this.pendingRemovals.indexOf(name);
    if (i >= 0) this.pendingRemovals.splice(i, 1);
    const mod = this.modules.get(name);
    if (mod && mod.refcnt === 0 && mod.state === 'LIVE') this.removeModule(name);
  }

  /** Before a command from a shell: asynchronous work has run, unless the scenario races it. */
  protected beforeCommand(): void {
    if (this.interleaved) return;
    if (this.race) this.race = false;
    else this.settle();
  }

  /** A module parameter's value as given on the modprobe line. */
  param(module: string, name: string): string | undefined {
    return this.params.get(module)?.find((p) => p.startsWith(`${name}=`))?.slice(name.length + 1);
  }

  /** Makes a module findable by modprobe (like installing it under /lib/modules). */
  install(image: ModuleImage): void {
    this.repository.set(image.name, image);
  }

  installed(name: string): ModuleImage | undefined {
    return this.repository.get(name);
  }

  printk(line: string): void {
    if (this.logging) this.log.push(line);
  }

  event(code: string, message: string, module?: string): void {
    this.events.push({ code, message, module });
  }

  /** `modprobe NAME` from a shell: prints modprobe's error like the tool does. */
  modprobeCommand(name: string, params: string[] = []): number {
    this.beforeCommand();
    return this.runToEnd(this.startModprobe(name, params));
  }

  /** Starts `modprobe NAME` from a shell without running it (the model checker steps it). */
  startModprobe(name: string, params: string[] = []): Task {
    this.printk(`% ${['modprobe', name, ...params].join(' ')}`);
    this.params.set(name, params);
    return this.spawn({ module: name, phase: 'modprobe', command: 'modprobe' });
  }

  /** Starts `insmod NAME.ko` without running it; undefined when there is no such file (the error is printed). */
  startInsmod(name: string): Task | undefined {
    this.printk(`% insmod ${name}`);
    if (this.repository.has(name)) return this.spawn({ module: name, phase: 'load', command: 'insmod' });
    this.finishCommand({ id: 0, module: name, phase: 'load', command: 'insmod' }, -ENOENT);
    return undefined;
  }

  /** Tasks working on a module that can take a step, oldest first. */
  readyFor(module: string): Task[] {
    return this.readyTasks()
      .filter((t) => t.module === module)
      .sort((a, b) => a.id - b.id);
  }

  /** No work in flight and no asynchronous work pending: where the design's invariants must hold. */
  quiescent(): boolean {
    return this.tasks.size === 0 && this.pendingRemovals.length === 0;
  }

  /** `insmod NAME.ko`: no dependency is loaded first. */
  insmodCommand(name: string): number {
    this.beforeCommand();
    this.printk(`% insmod ${name}`);
    if (!this.repository.has(name)) {
      this.finishCommand({ id: 0, module: name, phase: 'load', command: 'insmod' }, -ENOENT);
      return -ENOENT;
    }
    return this.runToEnd(this.spawn({ module: name, phase: 'load', command: 'insmod' }));
  }

  /** The shell's words for a failed command. */
  private finishCommand(task: Task, err: number): void {
    const name = task.module;
    if (this.killed) {
      this.killed = false;
      this.printk('killed: the command did not end');
      return;
    }
    if (!err) return;
    if (task.command === 'insmod') this.printk(`insmod: ERROR: could not insert module ${name}: ${INSMOD_ERRORS[-err] ?? strerror(err)}`);
    else if (err === -ENOENT && !this.repository.has(name)) this.printk(`modprobe: FATAL: Module ${name} not found in directory /lib/modules`);
    else if (err === -ENOENT) this.printk(`modprobe: ERROR: could not insert '${name}': Unknown symbol in module, or unknown parameter (see dmesg)`);
    else this.printk(`modprobe: ERROR: could not insert '${name}': ${strerror(err)}`);
  }

  rmmodCommand(name: string): number {
    this.beforeCommand();
    this.printk(`% rmmod ${name}`);
    const err = this.removeModule(name);
    if (err === -ENOENT) this.printk(`rmmod: ERROR: Module ${name} is not currently loaded`);
    else if (err === -EBUSY) {
      // kmod's rmmod names the holders (/sys/module/<m>/holders: the modules that took a reference).
      const holders = this.holders(name).sort();
      this.printk(`rmmod: ERROR: Module ${name} is in use${holders.length ? ` by: ${holders.join(' ')}` : ''}`);
    }
    return err;
  }

  /** request_module() and modprobe, run to the end: loads the module and what it depends on; 0 when already loaded. */
  modprobe(name: string): number {
    return this.runToEnd(this.spawn({ module: name, phase: 'modprobe' }));
  }

  private spawn(t: Omit<Task, 'id'>): Task {
    const task: Task = { ...t, id: this.nextTask++ };
    this.tasks.set(task.id, task);
    return task;
  }

  /** Runs a task and the tasks it waits for, depth first: what happens when nothing else runs meanwhile. */
  runToEnd(task: Task): number {
    while (this.tasks.has(task.id)) {
      if (task.child !== undefined) this.runToEnd(this.tasks.get(task.child)!);
      else this.step(task);
    }
    // A top-level task leaves its result for its command; a child's went to its parent.
    const done = this.finished.get(task.id) ?? 0;
    this.finished.delete(task.id);
    return done;
  }

  /** Tasks that can take a step now (not waiting for a child). */
  readyTasks(): Task[] {
    return [...this.tasks.values()].filter((t) => t.child === undefined);
  }

  /** One atomic step of a task: up to its next interleaving point. */
  step(task: Task): void {
    switch (task.phase) {
      case 'modprobe':
        return this.stepModprobe(task);
      case 'load':
        return this.stepLoad(task);
      case 'coming': {
        const mod = this.modules.get(task.module)!;
        return this.afterComing(task, mod, this.notifiers[0]!.comingResume(mod, task.cont!, this.takeChildErr(task)));
      }
      case 'init': {
        const mod = this.modules.get(task.module)!;
        return this.afterInit(task, mod, this.initCalls ? this.initCalls.init(mod) : { err: 0 });
      }
      case 'init-resume': {
        const mod = this.modules.get(task.module)!;
        return this.afterInit(task, mod, this.initCalls!.initResume(mod, task.cont!, this.takeChildErr(task)));
      }
    }
  }

  private takeChildErr(task: Task): number {
    const err = task.childErr ?? 0;
    delete task.childErr;
    if (err && task.requested) this.printk(`[request_module] ${task.requested}: failed (${err})`);
    delete task.requested;
    return err;
  }

  /** The task is done: its parent resumes with the result (or its command reports it). */
  private complete(task: Task, err: number): void {
    this.tasks.delete(task.id);
    if (task.parent !== undefined) {
      const parent = this.tasks.get(task.parent)!;
      delete parent.child;
      parent.childErr = err;
    } else {
      this.finishCommand(task, err);
      this.finished.set(task.id, err);
    }
  }

  /** Waits for a module to be loaded by a child task (request_module() or a dependency). */
  private waitFor(task: Task, module: string): void {
    this.printk(`[request_module] ${module}`);
    task.requested = module;
    task.child = this.spawn({ module, phase: 'modprobe', parent: task.id }).id;
  }

  /** modprobe: 0 when already loaded; else each dependency (a child task each), then the module itself. */
  private stepModprobe(task: Task): void {
    if (task.deps === undefined) {
      const image = this.repository.get(task.module);
      if (this.modules.has(task.module)) return this.complete(task, 0);
      if (!image) return this.complete(task, -ENOENT);
      task.deps = this.dependencies(image);
    } else {
      const err = task.childErr ?? 0;
      delete task.childErr;
      if (err) return this.complete(task, err);
    }
    for (let dep = task.deps.shift(); dep !== undefined; dep = task.deps.shift()) {
      const loaded = this.modules.get(dep);
      // kmod loads a COMING dependency again, and add_unformed_module() waits for the first load to end; when
      // that load is waiting for this modprobe (its coming handler requested the module), neither ever ends.
      // Only the shell's timeout breaks it: request_module() returns -EINTR to the killed loader.
      if (loaded?.state === 'COMING' && !loaded.image.isLivepatch && this.waitsFor(loaded.name, task)) {
        this.event('modprobe-deadlock', `modprobe '${task.module}' loads its dependency '${dep}' again while '${dep}' is COMING and waits for this modprobe`, task.module);
        this.killed = true;
        return this.complete(task, -EINTR);
      }
      if (loaded || dep === task.module) continue;
      task.child = this.spawn({ module: dep, phase: 'modprobe', parent: task.id }).id;
      return;
    }
    // The dependencies are there: load_module() of the module itself, in this same step.
    delete task.deps;
    task.phase = 'load';
    this.stepLoad(task);
  }

  /** Whether a task loading `module` waits (through its children) for `task`. */
  private waitsFor(module: string, task: Task): boolean {
    for (let t: Task | undefined = task; t; t = t.parent === undefined ? undefined : this.tasks.get(t.parent)) if (t.module === module && t !== task) return true;
    return false;
  }

  /** Modules whose exports the image needs (what depmod records). */
  dependencies(image: ModuleImage): string[] {
    const deps = new Set<string>();
    for (const sym of image.undefinedSymbols) {
      if (this.isVmlinuxExport(sym)) continue;
      for (const [n, other] of this.repository) if (n !== image.name && other.exports.has(sym)) deps.add(n);
    }
    return [...deps];
  }

  /** load_module() up to COMING: symbol resolution, placement, relocation, then the coming notifiers. */
  private stepLoad(task: Task): void {
    const image = this.repository.get(task.module)!;
    if (this.modules.has(image.name)) return this.complete(task, -EEXIST);
    // UNFORMED: on the module list (a second load of the name fails) but not yet usable.
    const uses = new Set<string>();
    const mod: LoadedModule = { name: image.name, image, state: 'UNFORMED', refcnt: 0, uses, loadedAt: ++this.clock, sectionAddress: new Map() };
    this.modules.set(mod.name, mod);
    const fail = (err: number): void => {
      this.modules.delete(mod.name);
      this.space.free(mod.name);
      this.complete(task, err);
    };
    // simplify_symbols(): every symbol in table order; each failing one prints its line, the load fails with the last error.
    let symbolsErr = 0;
    for (const s of image.elf.symbols) {
      const refusal = symbolRefusal(image, s);
      if (refusal) {
        this.printk(refusal.line);
        this.event(refusal.code, refusal.line.slice(image.name.length + 2), image.name);
        symbolsErr = -ENOEXEC;
        continue;
      }
      if (s.index === 0 || s.shndx !== C.SHN_UNDEF || !s.name) continue;
      const sym = s.name;
      if (this.isVmlinuxExport(sym)) continue;
      const owner = [...this.modules.values()].find((m) => m.image.exports.has(sym) && m.state !== 'GOING' && m.state !== 'UNFORMED');
      if (!owner) {
        // An unresolved weak symbol is fine (its value stays 0).
        if (s.bind === C.STB_WEAK) continue;
        this.printk(`${image.name}: Unknown symbol ${sym} (err -${ENOENT})`);
        this.event('unresolved-symbol', `'${sym}' is neither exported by vmlinux nor by a loaded module`, image.name);
        symbolsErr = -ENOENT;
        continue;
      }
      // ref_module() refuses an owner still COMING (strong_try_module_get()); resolve_symbol_wait() gives up
      // after 30 s. The split kernel records no reference between two livepatch modules, so those pass.
      if (owner.state === 'COMING' && !(image.isLivepatch && owner.image.isLivepatch)) {
        this.printk(`${image.name}: gave up waiting for init of module ${owner.name}.`);
        this.printk(`${image.name}: Unknown symbol ${sym} (err -${EBUSY})`);
        this.event('owner-coming', `'${sym}' is exported by '${owner.name}', which is still COMING (its init waits for this load: a deadlock the loader breaks after 30 s)`, image.name);
        symbolsErr = -EBUSY;
        continue;
      }
      uses.add(owner.name);
    }
    if (symbolsErr) return fail(symbolsErr);
    const base = this.space.alloc(mod.name, imageSize(image));
    if (base === undefined) {
      this.printk(`${image.name}: module area exhausted`);
      return fail(-ENOMEM);
    }
    // The stock kernel applies only .klp.rela.vmlinux.* at load (apply_relocations() with objname NULL); a split
    // kernel applies every livepatch relocation when the per-object module loads (docs/split-design.md §5).
    const classic = image.isLivepatch && klpOf(image, this.opts.layout).patch?.objects !== undefined;
    if (classic) {
      mod.klpDeferred = new Set([...klpRelaObjects(image)].filter((o) => o !== 'vmlinux'));
      this.unmatchedKlpObjects(mod);
    }
    const relocated = applyRelocations(image, base, this.resolver(), classic ? { klpObject: (o) => o === 'vmlinux' } : { carriesOnly: true });
    if (relocated.findings.length) {
      const f = relocated.findings[0]!;
      // One classic livepatch module writes a module's relocations when that module comes: it would load here.
      if (!classic && image.isLivepatch && SPLIT_ONLY_REFUSALS.has(f.code) && f.object !== undefined && !image.name.endsWith(`__${f.object}`)) {
        this.event('split-refused-classic-loads', `loading '${image.name}' is refused (${f.message}) where the same livepatch as one classic module would load: only a module's per-object module may use its symbols`, image.name);
      }
      return fail(this.relocationFailure(image.name, relocated.findings));
    }
    for (const t of relocated.truncated) this.event(t.code, t.message, image.name);
    mod.sectionAddress = relocated.sectionAddress;
    // complete_formation() -> verify_exported_symbols(): one owner per exported name.
    for (const sym of image.exports) {
      const owner = this.isVmlinuxExport(sym) ? 'kernel' : [...this.modules.values()].find((m) => m !== mod && m.state !== 'UNFORMED' && m.image.exports.has(sym))?.name;
      if (!owner) continue;
      this.printk(`${image.name}: exports duplicate symbol ${sym} (owned by ${owner})`);
      this.event('duplicate-symbol', `'${sym}' is already exported by '${owner}'`, image.name);
      return fail(-ENOEXEC);
    }
    mod.state = 'COMING';
    // Livepatch modules do not pin each other (spec §4 race C; the split kernel's resolve_symbol()); anything else is pinned.
    for (const u of uses) if (pins(mod, this.modules.get(u)!)) this.modules.get(u)!.refcnt++;
    this.afterComing(task, mod, this.notifiers.length ? this.notifiers[0]!.coming(mod) : { err: 0 });
  }

  private afterComing(task: Task, mod: LoadedModule, r: StepResult): void {
    if ('request' in r) {
      task.phase = 'coming';
      task.cont = r.cont;
      return this.waitFor(task, r.request);
    }
    delete task.cont;
    if (r.err) return this.failLoad(task, mod, r.err);
    // The module's init runs next, with no lock held in between (do_init_module()).
    task.phase = 'init';
  }

  private afterInit(task: Task, mod: LoadedModule, r: StepResult): void {
    if ('request' in r) {
      task.phase = 'init-resume';
      task.cont = r.cont;
      return this.waitFor(task, r.request);
    }
    delete task.cont;
    if (r.err) return this.failLoad(task, mod, r.err);
    mod.state = 'LIVE';
    this.complete(task, 0);
  }

  private failLoad(task: Task, mod: LoadedModule, err: number): void {
    mod.state = 'GOING';
    for (const n of this.notifiers) n.going(mod);
    this.forget(mod);
    this.complete(task, err);
  }

  /** Address of an exported symbol: vmlinux's (kallsyms, else a stand-in in its text) or a loaded module's. */
  private resolver() {
    return {
      exported: (sym: string) => this.exportAddress(sym),
      objectSymbol: (obj: string, sym: string, pos: number) => this.objectSymbolAddress(obj, sym, pos),
    };
  }

  /**
   * klp_apply_object_relocs() of a classic livepatch for a module object that
   * is (or becomes) loaded. 6.1 has no clear_relocate_add() (upstream 6.3; not
   * in Debian's 6.1, measured on the real kernel, test/e2e/klp-relocs-real.test.ts):
   * after the target was unloaded and comes again, x86's apply_relocate_add()
   * finds its earlier values and refuses.
   */
  applyObjectRelocations(mod: LoadedModule, obj: string): number {
    if (!mod.klpDeferred?.has(obj)) return 0;
    const r = applyKlpObjectRelocations(mod.image, mod.sectionAddress, obj, this.resolver());
    if (r.findings.length) return this.relocationFailure(mod.name, r.findings, EINVAL);
    for (const t of r.truncated) this.event(t.code, t.message, mod.name);
    mod.klpWritten ??= new Set();
    if (mod.klpWritten.has(obj) && r.first) {
      this.printk(`module: x86/modules: Skipping invalid relocation target, existing value is nonzero for type ${r.first.type}, loc (____ptrval____), val ${r.first.value.toString(16)}`);
      this.event('klp-relocation-not-cleared', `the livepatch relocations of '${obj}' are still written in '${mod.name}' from its earlier load (6.1 does not clear them on unload)`, mod.name);
      return -ENOEXEC;
    }
    mod.klpWritten.add(obj);
    return 0;
  }

  /** The kernel stops at the first failing relocation (apply_relocations()) and prints its lines; the rest are the simulator's own findings. */
  private relocationFailure(module: string, findings: RelocationFinding[], fallback = ENOEXEC): number {
    const f = findings[0]!;
    for (const line of relocationLines(module, f)) this.printk(line);
    for (const g of findings) this.event(g.code, g.message, module);
    return -(f.errno ?? fallback);
  }

  /**
   * `.klp.rela` sections whose object (as the kernel's `%55[^.]` reads it)
   * is none of the patch's objects: the kernel never writes them and says
   * nothing, so the patched code runs with those references unwritten.
   */
  private unmatchedKlpObjects(mod: LoadedModule): void {
    const objects = new Set((klpOf(mod.image, this.opts.layout).patch?.objects ?? []).map((o) => o.name ?? 'vmlinux'));
    for (const o of mod.klpDeferred ?? []) {
      if (objects.has(o)) continue;
      this.event('klp-rela-object-unknown', `'${mod.name}' has livepatch relocations for '${o}', which is not one of its objects: the kernel never writes them (the code using them is broken)`, mod.name);
    }
  }

  private exportAddress(sym: string): bigint | undefined {
    if (this.isVmlinuxExport(sym)) return this.opts.vmlinuxSymbols.address?.(sym, 1) ?? standInAddress(this.opts.vmlinuxExports, sym);
    for (const m of this.modules.values()) {
      if (m.state === 'GOING' || m.state === 'UNFORMED' || !m.image.exports.has(sym)) continue;
      const def = m.image.elf.symbols.find((s) => s.name === sym && s.shndx > 0 && s.shndx < 0xff00);
      const base = def ? m.sectionAddress.get(def.shndx) : undefined;
      if (def && base !== undefined) return base + BigInt(def.value);
    }
    return undefined;
  }

  /** `.klp.sym.<obj>.<sym>,<pos>`: the pos-th symbol of that name in the object (0: the only one). */
  private objectSymbolAddress(obj: string, sym: string, pos: number): bigint | { code: string; message: string } {
    if (obj === 'vmlinux') {
      const count = this.opts.vmlinuxSymbols.count(sym);
      if (!this.opts.vmlinuxSymbols.complete && count === 0) return KERNEL_TEXT;
      const problem = symposProblem(sym, obj, count, pos);
      return problem ?? this.opts.vmlinuxSymbols.address?.(sym, Math.max(pos, 1)) ?? KERNEL_TEXT;
    }
    const m = this.modules.get(obj);
    // klp_find_object_symbol() searches the loaded modules of that name: none is a miss.
    if (!m) return { code: 'klp-object-not-loaded', message: `symbol '${sym}' not found in symbol table` };
    const defs = m.image.elf.symbols.filter((s) => s.name === sym && s.shndx > 0 && s.shndx < 0xff00);
    const problem = symposProblem(sym, obj, defs.length, pos);
    if (problem) return problem;
    const def = defs[Math.max(pos, 1) - 1]!;
    return (m.sectionAddress.get(def.shndx) ?? 0n) + BigInt(def.value);
  }

  /** delete_module(): refused while referenced; runs exit, GOING notifiers. */
  removeModule(name: string): number {
    const mod = this.modules.get(name);
    if (!mod) return -ENOENT;
    if (mod.state !== 'LIVE') return -EBUSY;
    if (mod.refcnt > 0 || this.holders(name).length > 0) return -EBUSY;
    mod.state = 'GOING';
    for (const n of this.notifiers) n.going(mod);
    this.forget(mod);
    return 0;
  }

  /** Modules that use this one's exports (they hold a reference). */
  holders(name: string): string[] {
    const owner = this.modules.get(name);
    return [...this.modules.values()].filter((m) => m.uses.has(name) && (!owner || pins(m, owner))).map((m) => m.name);
  }

  private forget(mod: LoadedModule): void {
    for (const u of mod.uses) {
      const dep = this.modules.get(u);
      if (dep && pins(mod, dep)) dep.refcnt--;
    }
    this.modules.delete(mod.name);
    this.space.free(mod.name);
  }

  isLoaded(name: string): boolean {
    const m = this.modules.get(name);
    return !!m && m.state !== 'GOING' && m.state !== 'UNFORMED';
  }

  /** How many ranges of the module area are in use. */
  moduleAreaRanges(): number {
    return this.space.inUse();
  }

  /**
   * Copies the loader's state into a fresh loader (installed modules and
   * options shared); returns the map from old to new module records so the
   * subsystems can repoint their references.
   */
  protected copyLoaderInto(copy: ModuleLoader): Map<LoadedModule, LoadedModule> {
    const map = new Map<LoadedModule, LoadedModule>();
    for (const [name, m] of this.modules) {
      const n: LoadedModule = { ...m, uses: new Set(m.uses) };
      map.set(m, n);
      copy.modules.set(name, n);
    }
    copy.logging = this.logging;
    copy.interleaved = this.interleaved;
    copy.race = this.race;
    copy.params = new Map(this.params);
    copy.pendingRemovals = [...this.pendingRemovals];
    copy.tasks = new Map([...this.tasks].map(([id, t]) => [id, structuredCloneTask(t)]));
    copy.nextTask = this.nextTask;
    copy.repository = this.repository;
    copy.clock = this.clock;
    copy.space = this.space.clone();
    return map;
  }
}

function structuredCloneTask(t: Task): Task {
  const c: Task = { ...t };
  if (t.deps) c.deps = [...t.deps];
  if (t.cont) c.cont = t.cont.kind === 'coming' ? { ...t.cont, attempts: { ...t.cont.attempts } } : { ...t.cont };
  return c;
}

const standIns = new WeakMap<Map<string, unknown>, Map<string, bigint>>();

/** A stable address inside vmlinux's text for an export whose real address is unknown. */
function standInAddress(exports: Map<string, unknown>, sym: string): bigint {
  let table = standIns.get(exports);
  if (!table) {
    table = new Map();
    let i = 0n;
    for (const name of exports.keys()) table.set(name, KERNEL_TEXT + i++ * 16n);
    standIns.set(exports, table);
  }
  return table.get(sym) ?? KERNEL_TEXT;
}

import type { ModuleImage } from '../image/module-image.js';
import { applyRelocations } from './relocate.js';
import { symposProblem } from './object-symbols.js';
import type { KlpLayout } from '../klp/layout.js';
import { EBUSY, EEXIST, EINVAL, ENOENT, strerror } from './errno.js';
import { SplitLivepatch } from './livepatch.js';
import type { ExportedSymbol } from './symvers.js';
import type { SymbolSource } from './object-symbols.js';

/** kmod's insmod words some errors its own way (mod_strerror()). */
const INSMOD_ERRORS: Record<number, string> = {
  [ENOENT]: 'Unknown symbol in module',
  [EINVAL]: 'Invalid parameters',
};

/** Module states of include/linux/module.h. */
export type ModuleState = 'UNFORMED' | 'COMING' | 'LIVE' | 'GOING';

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
}

/** Start of the x86-64 module area (MODULES_VADDR without KASLR). */
const MODULES_VADDR = 0xffffffffc0000000n;
/** Where vmlinux's text starts; stands in for exports the kallsyms dump does not place. */
const KERNEL_TEXT = 0xffffffff81000000n;
export const ENOEXEC = 8;

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
 * The module loader: finds modules for modprobe and request_module, resolves
 * their undefined symbols against exports, runs the livepatch notifiers and
 * the module's init, keeps states and references.
 */
export class SimKernel {
  readonly log: string[] = [];
  readonly events: SimEvent[] = [];
  readonly modules = new Map<string, LoadedModule>();
  /** Parameters given to the last modprobe of each module. */
  readonly params = new Map<string, string[]>();
  /** Modules the kernel removes asynchronously (per-object modules whose object was freed). */
  readonly pendingRemovals: string[] = [];
  /** The next command runs before pending asynchronous work (a scenario's `@race`). */
  race = false;
  private readonly repository = new Map<string, ModuleImage>();
  private clock = 0;
  readonly livepatch: SplitLivepatch;
  constructor(readonly opts: KernelOptions) {
    this.livepatch = new SplitLivepatch(this, opts.layout, opts.vmlinuxSymbols);
  }

  isVmlinuxExport(sym: string): boolean {
    return this.opts.vmlinuxExports.has(sym) || (this.opts.extraVmlinuxExports?.includes(sym) ?? false);
  }

  /** Lets the asynchronous work run: pending removals happen. */
  settle(): void {
    while (this.pendingRemovals.length) {
      const name = this.pendingRemovals.shift()!;
      const mod = this.modules.get(name);
      if (mod && mod.refcnt === 0 && mod.state === 'LIVE') this.removeModule(name);
    }
  }

  /** Before a command from a shell: asynchronous work has run, unless the scenario races it. */
  private beforeCommand(): void {
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
    this.log.push(line);
  }

  event(code: string, message: string, module?: string): void {
    this.events.push({ code, message, module });
  }

  /** `modprobe NAME` from a shell: prints modprobe's error like the tool does. */
  modprobeCommand(name: string, params: string[] = []): number {
    this.beforeCommand();
    this.log.push(`% ${['modprobe', name, ...params].join(' ')}`);
    this.params.set(name, params);
    const err = this.modprobe(name);
    if (err === -ENOENT && !this.repository.has(name)) this.log.push(`modprobe: FATAL: Module ${name} not found in directory /lib/modules`);
    else if (err === -ENOENT) this.log.push(`modprobe: ERROR: could not insert '${name}': Unknown symbol in module, or unknown parameter (see dmesg)`);
    else if (err) this.log.push(`modprobe: ERROR: could not insert '${name}': ${strerror(err)}`);
    return err;
  }

  /** `insmod NAME.ko`: no dependency is loaded first. */
  insmodCommand(name: string): number {
    this.beforeCommand();
    this.log.push(`% insmod ${name}`);
    const image = this.repository.get(name);
    const err = image ? this.loadModule(image) : -ENOENT;
    if (err) this.log.push(`insmod: ERROR: could not insert module ${name}: ${INSMOD_ERRORS[-err] ?? strerror(err)}`);
    return err;
  }

  /** kernel.ftrace_enabled. */
  ftraceEnabled = true;

  /**
   * `sysctl kernel.ftrace_enabled=<value>`: ftrace cannot be turned off while
   * livepatch's permanent ftrace handlers are registered (a function is patched).
   */
  setFtraceEnabled(value: boolean): number {
    if (!value && this.livepatch.patchedFuncs.size > 0) return -EBUSY;
    this.ftraceEnabled = value;
    return 0;
  }

  /** `echo 0|1 > /sys/kernel/livepatch/<patch>/enabled`; the shell's messages when the write fails. */
  enabledCommand(patch: string, value: 0 | 1): number {
    this.beforeCommand();
    const path = `/sys/kernel/livepatch/${patch}/enabled`;
    this.log.push(`% echo ${value} > ${path}`);
    // The patch's sysfs directory goes away with the patch (klp_free_patch_finish()).
    if (!this.livepatch.findPatch(patch)) {
      this.log.push(`${path}: No such file or directory`);
      return -ENOENT;
    }
    const err = value ? this.livepatch.enable(patch) : this.livepatch.disable(patch);
    if (err) this.log.push(`echo: write error: ${strerror(err)}`);
    return err;
  }

  rmmodCommand(name: string): number {
    this.beforeCommand();
    this.log.push(`% rmmod ${name}`);
    const err = this.removeModule(name);
    if (err === -ENOENT) this.log.push(`rmmod: ERROR: Module ${name} is not currently loaded`);
    else if (err === -EBUSY) this.log.push(`rmmod: ERROR: Module ${name} is in use`);
    return err;
  }

  /** request_module() from the kernel: marked in the log, since the kernel runs modprobe silently. */
  requestModule(name: string): number {
    this.printk(`[request_module] ${name}`);
    const err = this.modprobe(name);
    if (err) this.printk(`[request_module] ${name}: failed (${err})`);
    return err;
  }

  /** request_module()/modprobe: loads the module and what it depends on; 0 when already loaded. */
  modprobe(name: string): number {
    if (this.modules.has(name)) return 0;
    const image = this.repository.get(name);
    if (!image) return -ENOENT;
    for (const dep of this.dependencies(image)) {
      if (dep === name) continue;
      const err = this.modprobe(dep);
      if (err) return err;
    }
    return this.loadModule(image);
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

  /** load_module(): symbol resolution, COMING notifiers, init, LIVE. */
  loadModule(image: ModuleImage): number {
    if (this.modules.has(image.name)) return -EEXIST;
    // UNFORMED: on the module list (a second load of the name fails) but not yet usable.
    const uses = new Set<string>();
    const mod: LoadedModule = { name: image.name, image, state: 'UNFORMED', refcnt: 0, uses, loadedAt: ++this.clock, sectionAddress: new Map() };
    this.modules.set(mod.name, mod);
    const fail = (err: number): number => {
      this.modules.delete(mod.name);
      return err;
    };
    for (const sym of image.undefinedSymbols) {
      if (this.isVmlinuxExport(sym)) continue;
      const owner = [...this.modules.values()].find((m) => m.image.exports.has(sym) && m.state !== 'GOING' && m.state !== 'UNFORMED');
      if (!owner) {
        this.printk(`${image.name}: Unknown symbol ${sym} (err -${ENOENT})`);
        this.event('unresolved-symbol', `'${sym}' is neither exported by vmlinux nor by a loaded module`, image.name);
        return fail(-ENOENT);
      }
      uses.add(owner.name);
    }
    const relocated = applyRelocations(image, MODULES_VADDR + BigInt(this.clock) * 0x400000n, {
      exported: (sym) => this.exportAddress(sym),
      objectSymbol: (obj, sym, pos) => this.objectSymbolAddress(obj, sym, pos),
    });
    if (relocated.findings.length) {
      for (const f of relocated.findings) {
        this.printk(f.code.startsWith('klp-') || f.code.startsWith('sympos') || f.code === 'old-name-not-found' ? `livepatch: ${f.message}` : `${image.name}: ${f.message}`);
        this.event(f.code, f.message, image.name);
      }
      return fail(-ENOEXEC);
    }
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
    // Livepatch modules do not pin what they use (spec §4 race C).
    if (!image.isLivepatch) for (const u of uses) this.modules.get(u)!.refcnt++;
    let err = this.livepatch.moduleComing(mod);
    if (!err) err = this.livepatch.initModule(mod);
    if (err) {
      mod.state = 'GOING';
      this.livepatch.moduleGoing(mod);
      this.forget(mod);
      return err;
    }
    mod.state = 'LIVE';
    return 0;
  }

  /** Address of an exported symbol: vmlinux's (kallsyms, else a stand-in in its text) or a loaded module's. */
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
    if (!m) return { code: 'klp-object-not-loaded', message: `livepatch symbol '${sym}' of '${obj}', which is not loaded` };
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
    this.livepatch.moduleGoing(mod);
    this.forget(mod);
    return 0;
  }

  /** Modules that use this one's exports (they hold a reference). */
  holders(name: string): string[] {
    return [...this.modules.values()].filter((m) => m.uses.has(name) && !m.image.isLivepatch).map((m) => m.name);
  }

  private forget(mod: LoadedModule): void {
    if (!mod.image.isLivepatch) for (const u of mod.uses) {
      const dep = this.modules.get(u);
      if (dep) dep.refcnt--;
    }
    this.modules.delete(mod.name);
  }

  isLoaded(name: string): boolean {
    const m = this.modules.get(name);
    return !!m && m.state !== 'GOING' && m.state !== 'UNFORMED';
  }
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

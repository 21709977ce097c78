import { EBUSY, ENOENT, strerror } from './errno.js';
import { ModuleLoader, type KernelOptions } from './loader.js';
import { LivepatchCore } from './livepatch/core.js';

export { ENOEXEC, ModuleLoader } from './loader.js';
export type { KernelOptions, LoadedModule, SimEvent, ModuleNotifier, ModuleInit } from './loader.js';

/**
 * A simulated kernel: the module loader with the livepatch core registered
 * on it (the core's coming/going notifier and the klp_* functions module
 * inits call), plus the shell's view of sysfs and sysctl.
 */
export class SimKernel extends ModuleLoader {
  readonly livepatch: LivepatchCore;
  private readonly ftrace = { enabled: true };

  constructor(opts: KernelOptions) {
    super(opts);
    this.livepatch = new LivepatchCore(this, opts.layout, opts.vmlinuxSymbols, this.ftrace);
  }

  /** kernel.ftrace_enabled. */
  get ftraceEnabled(): boolean {
    return this.ftrace.enabled;
  }

  /**
   * `sysctl kernel.ftrace_enabled=<value>`: ftrace cannot be turned off while
   * livepatch's permanent ftrace handlers are registered (a function is patched).
   */
  setFtraceEnabled(value: boolean): number {
    if (!value && this.livepatch.patchedFuncs.size > 0) return -EBUSY;
    this.ftrace.enabled = value;
    return 0;
  }

  /** `echo 0|1 > /sys/kernel/livepatch/<patch>/enabled`; the shell's messages when the write fails. */
  enabledCommand(patch: string, value: 0 | 1): number {
    this.beforeCommand();
    return this.writeEnabled(patch, value);
  }

  /** The write itself, with no asynchronous work run first (the model checker's event). */
  writeEnabled(patch: string, value: 0 | 1): number {
    const path = `/sys/kernel/livepatch/${patch}/enabled`;
    this.printk(`% echo ${value} > ${path}`);
    // The patch's sysfs directory goes away with the patch (klp_free_patch_finish()).
    if (!this.livepatch.findPatch(patch)) {
      this.printk(`${path}: No such file or directory`);
      return -ENOENT;
    }
    const err = value ? this.livepatch.enable(patch) : this.livepatch.disable(patch);
    if (err) this.printk(`echo: write error: ${strerror(err)}`);
    return err;
  }

  /** `echo 1 > /sys/kernel/livepatch/<patch>/force`; the shell's messages when the write fails. */
  forceCommand(patch: string): number {
    this.beforeCommand();
    return this.writeForce(patch);
  }

  /** The force write itself (the model checker's event). */
  writeForce(patch: string): number {
    const path = `/sys/kernel/livepatch/${patch}/force`;
    this.printk(`% echo 1 > ${path}`);
    if (!this.livepatch.findPatch(patch)) {
      this.printk(`${path}: No such file or directory`);
      return -ENOENT;
    }
    const err = this.livepatch.force(patch);
    if (err) this.printk(`echo: write error: ${strerror(err)}`);
    return err;
  }

  /** `rmmod NAME` with no asynchronous work run first (the model checker's event). */
  rmmodNow(name: string): number {
    this.race = true;
    return this.rmmodCommand(name);
  }

  /** A copy of this kernel's state (modules installed and options shared), for the model checker. */
  clone(): SimKernel {
    const copy = new SimKernel(this.opts);
    const modules = this.copyLoaderInto(copy);
    copy.ftrace.enabled = this.ftrace.enabled;
    this.livepatch.copyInto(copy.livepatch, modules);
    return copy;
  }
}

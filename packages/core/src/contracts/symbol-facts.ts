/**
 * What the kernel and the target modules say about the symbols a livepatch
 * uses but does not define, as the splitter asks it for placement by object
 * (docs/split-design.md §8): built by @klp-split/klp-relocs from
 * Module.symvers, a kallsyms dump of vmlinux and the targets' .ko files.
 */
export interface SymbolFacts {
  /** The modules (kbuild's '_' form) whose symbols or exports hold `name`. */
  modulesWith(name: string): readonly string[];
  /** `name` is exported by vmlinux: the loader resolves it wherever the code is. */
  isVmlinuxExport(name: string): boolean;
  /** `name` is one of vmlinux's symbols; undefined when they are not known (no kallsyms dump). */
  inVmlinux(name: string): boolean | undefined;
  /** The facts hold the module's symbols (its .ko). */
  knows(module: string): boolean;
}

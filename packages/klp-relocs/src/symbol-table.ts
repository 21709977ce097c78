import { elfConstants as C, VMLINUX, type ElfFile, type Kallsyms } from '@klp-split/kernel-facts';

/**
 * The symbols of one object in kallsyms order, as klp_find_object_symbol()
 * counts them: vmlinux from a kallsyms dump of the booted kernel, a module
 * from its built .ko (the kernel's module kallsyms keep the symtab's order).
 */
export class ObjectSymbolTable {
  readonly #byName = new Map<string, number>();
  /** base name -> compiler-suffixed variants (`name.constprop.0`, `name.isra.0`, `name.cold`). */
  #suffixed?: Map<string, string[]>;

  constructor(
    readonly object: string,
    /** Where the facts come from, for messages. */
    readonly source: string,
    private readonly names: readonly string[],
  ) {
    for (const n of names) this.#byName.set(n, (this.#byName.get(n) ?? 0) + 1);
  }

  count(name: string): number {
    return this.#byName.get(name) ?? 0;
  }

  /** The object has `name`, as written or as a compiler's clone of it (`name.constprop.0`). */
  holds(name: string): boolean {
    return this.count(name) > 0 || this.suffixedVariants(name).length > 0;
  }

  /** Names `name.<suffix>` the compiler made of `name` (GCC's clones and split-off cold parts). */
  suffixedVariants(name: string): string[] {
    if (!this.#suffixed) {
      this.#suffixed = new Map();
      for (const n of this.#byName.keys()) {
        const dot = n.indexOf('.');
        if (dot <= 0) continue;
        const base = n.slice(0, dot);
        const list = this.#suffixed.get(base) ?? [];
        list.push(n);
        this.#suffixed.set(base, list);
      }
    }
    return this.#suffixed.get(name) ?? [];
  }
}

export function vmlinuxTable(kallsyms: Kallsyms): ObjectSymbolTable {
  return new ObjectSymbolTable(VMLINUX, kallsyms.file, kallsyms.symbolsOf(VMLINUX).map((s) => s.name));
}

/** A module's symbols that its kallsyms would list: defined, named, not sections or files. */
export function moduleTable(object: string, elf: ElfFile): ObjectSymbolTable {
  const names = elf.symbols
    .filter((s) => s.name && s.shndx !== C.SHN_UNDEF && s.shndx !== C.SHN_LIVEPATCH && s.type !== C.STT_SECTION && s.type !== C.STT_FILE)
    .map((s) => s.name);
  return new ObjectSymbolTable(object, elf.path, names);
}

import { elfConstants as C, readKallsyms, type Kallsyms } from '@klp-split/kernel-facts';
import type { ModuleImage } from '../image/module-image.js';

/**
 * The symbols the livepatch core can look an old_name up in, in kallsyms
 * order: a loaded module's own symbol table, or vmlinux's kallsyms.
 */
export interface SymbolSource {
  /** How many symbols of that name exist, in kallsyms order. */
  count(name: string): number;
  /** Address of the `pos`-th (1-based) symbol of that name, when known. */
  address?(name: string, pos: number): bigint | undefined;
  /** False when the source cannot answer (vmlinux without a kallsyms dump). */
  complete: boolean;
}

const moduleSources = new WeakMap<ModuleImage, SymbolSource>();

export function moduleSymbolSource(image: ModuleImage): SymbolSource {
  const cached = moduleSources.get(image);
  if (cached) return cached;
  const counts = new Map<string, number>();
  for (const s of image.elf.symbols) {
    if (!s.name || s.shndx === C.SHN_UNDEF || s.type === C.STT_SECTION || s.type === C.STT_FILE) continue;
    counts.set(s.name, (counts.get(s.name) ?? 0) + 1);
  }
  const source: SymbolSource = { count: (n) => counts.get(n) ?? 0, complete: true };
  moduleSources.set(image, source);
  return source;
}

/** vmlinux as far as Module.symvers tells: exported names only, so a miss proves nothing. */
function exportsSymbolSource(exports: Map<string, unknown>): SymbolSource {
  return { count: (n) => (exports.has(n) ? 1 : 0), complete: false };
}

/** vmlinux as the real kernel's /proc/kallsyms lists it: every symbol, in kallsyms order. */
function kallsymsSymbolSource(kallsyms: Kallsyms): SymbolSource {
  return {
    count: (n) => kallsyms.count(n),
    address: (n, pos) => kallsyms.occurrences(n)[pos - 1]?.address,
    complete: true,
  };
}

const kallsymsCache = new Map<string, Kallsyms>();

/** vmlinux's symbols: a kallsyms dump when there is one, else what Module.symvers tells. */
export function vmlinuxSymbolSource(exports: Map<string, unknown>, kallsymsFile?: string): SymbolSource {
  if (!kallsymsFile) return exportsSymbolSource(exports);
  let k = kallsymsCache.get(kallsymsFile);
  if (!k) {
    k = readKallsyms(kallsymsFile);
    kallsymsCache.set(kallsymsFile, k);
  }
  return kallsymsSymbolSource(k);
}

/**
 * klp_find_object_symbol()'s rules for old_sympos, in the kernel's words. Its
 * ambiguity message prints the object name unguarded, so vmlinux (NULL) shows
 * as "(null)", as the real kernel prints it.
 */
export function symposProblem(name: string, obj: string, count: number, pos: number): { code: string; message: string } | undefined {
  if (count === 0) return { code: 'old-name-not-found', message: `symbol '${name}' not found in symbol table` };
  if (pos === 0 && count > 1) return { code: 'sympos-ambiguous', message: `unresolvable ambiguity for symbol '${name}' in object '${obj === 'vmlinux' ? '(null)' : obj}'` };
  if (pos > count) return { code: 'sympos-missing', message: `symbol position ${pos} for symbol '${name}' in object '${obj}' not found` };
  return undefined;
}

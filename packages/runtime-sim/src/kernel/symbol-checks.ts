import { elfConstants as C, type ElfSymbol } from '@klp-split/kernel-facts';
import type { ModuleImage } from '../image/module-image.js';

/**
 * What simplify_symbols() (kernel/module/main.c of 6.1) refuses besides an
 * unresolved symbol, for every symbol of the module whether a relocation
 * uses it or not, with the line it prints: a common symbol (modules are
 * built with -fno-common), and a section index past the section table,
 * which every reserved index but SHN_ABS, SHN_COMMON and SHN_LIVEPATCH is
 * too (the loader does not read SHN_XINDEX's extension table). Each fails
 * the load with -ENOEXEC.
 */
export interface SymbolRefusal {
  code: 'common-symbol' | 'invalid-section-index';
  symbol: ElfSymbol;
  /** The kernel's line. */
  line: string;
}

/** st_shndx as the file holds it (the reader resolves SHN_XINDEX; the loader does not). */
function rawSectionIndex(sym: ElfSymbol): number {
  return sym.xindex ? C.SHN_XINDEX : sym.shndx;
}

/** e_shnum as the header holds it: what the loader compares section indexes with. */
function headerShnum(image: ModuleImage): number {
  return image.elf.buf.readUInt16LE(60);
}

/** The refusal for one symbol, or undefined (SHN_UNDEF is the loader's symbol resolution). */
export function symbolRefusal(image: ModuleImage, sym: ElfSymbol): SymbolRefusal | undefined {
  const shndx = rawSectionIndex(sym);
  if (sym.index === 0 || shndx === C.SHN_UNDEF || shndx === C.SHN_ABS || shndx === C.SHN_LIVEPATCH) return undefined;
  if (shndx === C.SHN_COMMON) {
    if (sym.name.startsWith('__gnu_lto')) return undefined;
    return { code: 'common-symbol', symbol: sym, line: `${image.name}: please compile with -fno-common` };
  }
  const shnum = headerShnum(image);
  if (shndx < shnum) return undefined;
  return { code: 'invalid-section-index', symbol: sym, line: `${image.name}: Symbol ${sym.name} has an invalid section index ${shndx} (max ${shnum - 1})` };
}

export function symbolRefusals(image: ModuleImage): SymbolRefusal[] {
  const out: SymbolRefusal[] = [];
  for (const sym of image.elf.symbols) {
    const r = symbolRefusal(image, sym);
    if (r) out.push(r);
  }
  return out;
}

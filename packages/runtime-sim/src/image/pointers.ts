import { elfConstants as C, sectionData, type ElfFile, type ElfRela, type ElfSection, type ElfSymbol } from '@klp-split/kernel-facts';

/** Where a pointer-sized field of a module's data points once relocated. */
type PointerTarget =
  | { kind: 'null' }
  | { kind: 'local'; section: ElfSection; offset: number; symbol?: ElfSymbol }
  | { kind: 'external'; name: string }
  | { kind: 'unknown'; raw: bigint };

/** Relocations by target section and offset, for reading initialized pointers. */
export class RelocationIndex {
  private readonly bySection = new Map<number, Map<number, ElfRela>>();

  constructor(readonly elf: ElfFile) {
    for (const rs of elf.relocations) {
      const map = this.bySection.get(rs.target.index) ?? new Map<number, ElfRela>();
      for (const r of rs.relocs) map.set(r.offset, r);
      this.bySection.set(rs.target.index, map);
    }
  }

  at(section: ElfSection, offset: number): ElfRela | undefined {
    return this.bySection.get(section.index)?.get(offset);
  }

  pointer(section: ElfSection, offset: number): PointerTarget {
    const rela = this.at(section, offset);
    if (!rela) {
      const data = sectionData(this.elf, section);
      if (offset + 8 > data.length) return { kind: 'null' };
      const raw = data.readBigUInt64LE(offset);
      return raw === 0n ? { kind: 'null' } : { kind: 'unknown', raw };
    }
    const sym = this.elf.symbols[rela.symIndex]!;
    if (sym.shndx === C.SHN_UNDEF || sym.shndx === C.SHN_LIVEPATCH) return { kind: 'external', name: sym.name };
    const target = this.elf.sections[sym.shndx];
    if (!target) return { kind: 'unknown', raw: 0n };
    const base = sym.type === C.STT_SECTION ? 0 : sym.value;
    const off = base + Number(rela.addend);
    return { kind: 'local', section: target, offset: off, symbol: sym.type === C.STT_SECTION ? undefined : sym };
  }

  /** A C string a pointer field refers to; null for NULL. */
  string(section: ElfSection, offset: number): string | null | undefined {
    const p = this.pointer(section, offset);
    if (p.kind === 'null') return null;
    if (p.kind !== 'local') return undefined;
    const data = sectionData(this.elf, p.section);
    const end = data.indexOf(0, p.offset);
    return end < 0 ? undefined : data.toString('latin1', p.offset, end);
  }

  /** The function a pointer field refers to, by symbol name. */
  functionName(section: ElfSection, offset: number): string | null | undefined {
    const p = this.pointer(section, offset);
    if (p.kind === 'null') return null;
    if (p.kind === 'external') return p.name;
    if (p.kind !== 'local') return undefined;
    if (p.symbol && p.symbol.value === p.offset) return p.symbol.name;
    return symbolAt(this.elf, p.section, p.offset, C.STT_FUNC)?.name;
  }
}

function symbolAt(elf: ElfFile, section: ElfSection, offset: number, type?: number): ElfSymbol | undefined {
  return elf.symbols.find((s) => s.shndx === section.index && s.value === offset && (type === undefined || s.type === type) && s.name !== '');
}

export function readU64(elf: ElfFile, section: ElfSection, offset: number): bigint {
  const data = sectionData(elf, section);
  return offset + 8 <= data.length ? data.readBigUInt64LE(offset) : 0n;
}

export function readU8(elf: ElfFile, section: ElfSection, offset: number): number {
  const data = sectionData(elf, section);
  return offset < data.length ? data[offset]! : 0;
}

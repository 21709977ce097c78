import { elfConstants as C, type ElfFile, parseKlpRelaName, parseKlpSymName } from '@klp-split/kernel-facts';
import type { LivepatchRelocation } from './convert.js';

interface ListedRelocation extends LivepatchRelocation {
  /** The `.klp.rela` section it is in. */
  klpSection: string;
  /** Set when the kernel would refuse this entry: why. */
  problem?: string;
}

/** A module's livepatch relocations as the livepatch core reads them. */
export function listLivepatchRelocations(elf: ElfFile): ListedRelocation[] {
  const out: ListedRelocation[] = [];
  for (const rs of elf.relocations) {
    if (!(rs.section.flags & C.SHF_RELA_LIVEPATCH)) continue;
    const lpObject = parseKlpRelaName(rs.section.name);
    for (const r of rs.relocs) {
      const sym = elf.symbols[r.symIndex]!;
      const parsed = parseKlpSymName(sym.name);
      const problem = !lpObject
        ? `section ${rs.section.name} has an incorrectly formatted name`
        : sym.shndx !== C.SHN_LIVEPATCH
          ? `symbol ${sym.name} is not marked as a livepatch symbol`
          : !parsed
            ? `symbol ${sym.name} has an incorrectly formatted name`
            : lpObject !== 'vmlinux' && parsed.object === 'vmlinux'
              ? `invalid access to vmlinux symbol '${parsed.symbol}' from module-specific livepatch relocation section`
              : undefined;
      out.push({
        klpSection: rs.section.name,
        lpObject: lpObject ?? '?',
        object: parsed?.object ?? '?',
        symbol: parsed?.symbol ?? sym.name,
        sympos: parsed?.sympos ?? 0,
        section: rs.target.name,
        offset: r.offset,
        type: C.RELOC_NAMES[r.type] ?? `type ${r.type}`,
        ...(problem ? { problem } : {}),
      });
    }
  }
  return out;
}

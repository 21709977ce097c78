import { elfConstants as C, parseKlpSymName, STATIC_KEY_SECTIONS } from '@klp-split/kernel-facts';
import type { ElfFile } from '@klp-split/kernel-facts';

/**
 * The livepatch relocation rules the writer enforces (@klp-split/klp-relocs),
 * checked again on a built module, whoever wrote it:
 * - none in an init section: a module object's relocations are written
 *   when its target comes, after the livepatch module's init code ran and
 *   its `.init.*` sections were freed;
 * - none from the jump-label or static-call sections to a module's symbol:
 *   those entries are processed while the livepatch module is COMING, before
 *   the target's own jump labels and static calls are set up (the static-key
 *   hazard).
 */

interface KlpRelocRuleProblem {
  code: 'klp-reloc-in-init' | 'klp-reloc-static-key';
  message: string;
  /** The symbol as the C code names it, to point at its line. */
  symbol: string;
}

export function klpRelocRuleProblems(elf: ElfFile): KlpRelocRuleProblem[] {
  const out: KlpRelocRuleProblem[] = [];
  const seen = new Set<string>();
  const add = (p: KlpRelocRuleProblem): void => {
    const key = `${p.code}:${p.message}`;
    if (!seen.has(key)) out.push(p);
    seen.add(key);
  };
  for (const rs of elf.relocations) {
    if (!(rs.section.flags & C.SHF_RELA_LIVEPATCH)) continue;
    const target = rs.target.name;
    for (const r of rs.relocs) {
      const sym = elf.symbols[r.symIndex];
      const m = sym ? parseKlpSymName(sym.name) : undefined;
      const [object, symbol] = m ? [m.object, m.symbol] : ['?', sym?.name ?? `symbol ${r.symIndex}`];
      if (target.startsWith('.init')) {
        add({
          code: 'klp-reloc-in-init',
          symbol,
          message: `livepatch relocation of '${symbol}' (${object}) in init section '${target}' ('${rs.section.name}'): a module object's relocations are written after the init code ran and its sections were freed`,
        });
      }
      if (STATIC_KEY_SECTIONS.has(target) && object !== 'vmlinux') {
        add({
          code: 'klp-reloc-static-key',
          symbol,
          message: `livepatch relocation of '${symbol}' of module '${object}' from '${target}' ('${rs.section.name}'): its jump labels or static calls are set up while the livepatch module is COMING, before the target's own (the static-key hazard)`,
        });
      }
    }
  }
  return out;
}

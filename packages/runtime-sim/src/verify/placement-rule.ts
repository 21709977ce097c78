import { elfConstants as C, parseKlpSymName, scanKlpRelaName } from '@klp-split/kernel-facts';
import type { ElfFile } from '@klp-split/kernel-facts';

/**
 * The split design's placement rule on a built part, read from its ELF
 * whoever wrote it: code that uses a module's symbols lives in that
 * module's per-object module. The main module (object vmlinux) is loaded
 * before the modules it fixes and stays while they come and go, so no
 * livepatch relocation of it may name a module; a per-object module only
 * its own target (and vmlinux).
 * - A `.klp.rela.<obj>.*` section in any module but `<patch>__<obj>`: the
 *   split kernel refuses it when the module loads (klp_apply_section_relocs()).
 * - A `.klp.sym.<obj>.*` symbol of another module, in a vmlinux section:
 *   resolved when the module loads, so the load fails whenever <obj> is not
 *   there, where one classic livepatch module would load and write it when
 *   <obj> comes.
 */
export interface PlacementRuleProblem {
  code: 'klp-rela-not-carried' | 'klp-sym-other-module';
  message: string;
  /** The symbol as the C code names it, to point at its line. */
  symbol: string;
}

/** Problems of module `module` of patch `patch`, which carries object `object` ('vmlinux' for the main module). */
export function placementRuleProblems(elf: ElfFile, module: string, object: string, patch: string): PlacementRuleProblem[] {
  const out: PlacementRuleProblem[] = [];
  const seen = new Set<string>();
  const where = object === 'vmlinux' ? 'the main module' : `the per-object module of '${object}'`;
  for (const rs of elf.relocations) {
    if (!(rs.section.flags & C.SHF_RELA_LIVEPATCH)) continue;
    const secObj = scanKlpRelaName(rs.section.name);
    if (!secObj) continue;
    for (const r of rs.relocs) {
      const sym = elf.symbols[r.symIndex];
      const m = sym ? parseKlpSymName(sym.name) : undefined;
      const [symObj, symbol] = m ? [m.object, m.symbol] : [secObj, sym?.name ?? ''];
      if (secObj !== 'vmlinux' && secObj !== object) {
        const key = `rela:${rs.section.name}`;
        if (seen.has(key)) continue;
        seen.add(key);
        out.push({
          code: 'klp-rela-not-carried',
          symbol,
          message: `section ${rs.section.name} of module '${module}': only the per-object module '<patch>__${secObj}' may relocate against '${secObj}' (the split kernel refuses to load ${where}; its code using '${symbol}' belongs in '${patch}__${secObj}')`,
        });
        continue;
      }
      if (symObj === 'vmlinux' || symObj === object || seen.has(`sym:${sym!.name}`)) continue;
      seen.add(`sym:${sym!.name}`);
      out.push({
        code: 'klp-sym-other-module',
        symbol,
        message: `${where} '${module}' relocates against '${symbol}' of module '${symObj}' (${sym!.name} in ${rs.section.name}): while '${symObj}' is not loaded the kernel refuses it ("symbol '${symbol}' not found in symbol table"), where one classic livepatch module would load; only the per-object module '${patch}__${symObj}' may relocate against '${symObj}'`,
      });
    }
  }
  return out;
}

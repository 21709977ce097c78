import { STATIC_KEY_SECTIONS, VMLINUX, objectNameProblem, symbolNameProblem } from '@klp-split/kernel-facts';
import type { SymbolProblem } from './sympos.js';

/**
 * The kernel's rules for one livepatch relocation (module-elf-format.rst,
 * klp_resolve_symbols() and upstream's tooling), checked before anything is
 * written: what the kernel would refuse at load, or what would crash
 * (verify checks the init and static-key rules again on the built module).
 */
export function relocationProblems(r: { lpObject: string; object: string; symbol: string; section: string }): SymbolProblem[] {
  const out: SymbolProblem[] = [];
  const error = (code: string, message: string): void => {
    out.push({ severity: 'error', code, message });
  };
  for (const o of new Set([r.lpObject, r.object])) {
    const p = objectNameProblem(o);
    if (p) error('klp-object-name', p);
  }
  const p = symbolNameProblem(r.symbol);
  if (p) error('klp-symbol-name', p);
  if (r.lpObject !== VMLINUX && r.object === VMLINUX) {
    error('klp-vmlinux-sym-in-module-section', `'${r.symbol}' of vmlinux would be used from the module section '.klp.rela.${r.lpObject}${r.section}': the kernel refuses that (since 5.8); use a normal relocation to a vmlinux export`);
  }
  if (r.section.startsWith('.init')) {
    error('klp-reloc-in-init', `'${r.symbol}' is used from '${r.section}': livepatch relocations of a module object are applied after its init code ran and its init sections were freed; use it from ordinary code`);
  }
  if (STATIC_KEY_SECTIONS.has(r.section) && r.object !== VMLINUX) {
    error('klp-reloc-static-key', `'${r.symbol}' of module '${r.object}' is used from '${r.section}': its jump labels or static calls would be set up before the target's own (the static-key hazard)`);
  }
  return out;
}

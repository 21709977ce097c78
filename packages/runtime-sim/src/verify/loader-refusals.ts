import type { ModuleImage } from '../image/module-image.js';
import { applyRelocations, relocationLines } from '../kernel/relocate.js';
import { symbolRefusals } from '../kernel/symbol-checks.js';

/**
 * What the split kernel's module loader refuses in a module whatever else
 * is loaded, found without loading it: simplify_symbols()' symbol checks
 * and a dry run of apply_relocations() with every symbol resolvable (its
 * relocation types, fields that are not 0, the split kernel's
 * klp_module_carries() rule and the livepatch symbol rules). The simulated
 * load applies the same code with real addresses; this finds the refusals
 * of modules the verify scenario does not load (a per-object module whose
 * target was not given). Each finding carries the kernel's line.
 */
export interface LoaderRefusal {
  code: string;
  /** The kernel's log line(s), as the split kernel prints them. */
  lines: string[];
  /** A symbol or section to point at in the source. */
  needle?: string;
}

/** Codes of the dry run that depend on nothing but the module. */
const STATIC_CODES = new Set(['unknown-relocation-type', 'relocation-target-nonzero', 'klp-rela-not-carried', 'klp-rela-name', 'klp-sym-not-livepatch', 'klp-sym-name', 'klp-vmlinux-sym-in-module-section', 'klp-sym-outside-klp-rela']);

const MODULE_AREA = 0xffffffffc0000000n;
const KERNEL_TEXT = 0xffffffff81000000n;

export function loaderRefusals(image: ModuleImage, splitKernel = true): LoaderRefusal[] {
  const out: LoaderRefusal[] = symbolRefusals(image).map((r) => ({ code: r.code, lines: [r.line], needle: r.symbol.name }));
  const anywhere = { exported: () => KERNEL_TEXT, objectSymbol: () => KERNEL_TEXT };
  const dry = applyRelocations(image, MODULE_AREA, anywhere, { carriesOnly: splitKernel });
  for (const f of dry.findings.filter((x) => STATIC_CODES.has(x.code))) out.push({ code: f.code, lines: relocationLines(image.name, f) });
  return out;
}

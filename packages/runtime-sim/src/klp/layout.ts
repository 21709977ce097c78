import { KlpError, parseLayoutSymbolName, REQUIRED_LAYOUT_STRUCTS } from '@klp-split/core';
import { sectionData } from '@klp-split/kernel-facts';
import { loadModuleImageCached } from '../image/module-image.js';

/** Sizes and field offsets of the livepatch structures, read from the layout probe module. */
type StructLayout = Record<string, number> & { sizeof: number };
export type KlpLayout = Record<string, StructLayout>;

/** A layout probe module that does not hold the layout: an input error naming the probe. */
class LayoutError extends KlpError {
  constructor(message: string, file?: string) {
    super(message, { code: 'layout-invalid', file, hint: "rebuild with 'klp-split build'" });
    this.name = 'LayoutError';
  }
}

/** Reads the probe's `klp_layout__<struct>__<field>` symbols (the contract in @klp-split/core). */
export function readLayout(probeKo: string): KlpLayout {
  const image = loadModuleImageCached(probeKo);
  const layout: KlpLayout = {};
  for (const sym of image.elf.symbols) {
    const named = parseLayoutSymbolName(sym.name);
    const section = image.elf.sections[sym.shndx];
    if (!named || !section) continue;
    const data = sectionData(image.elf, section);
    if (sym.value + 8 > data.length) throw new LayoutError(`layout symbol ${sym.name} lies outside its section`, probeKo);
    (layout[named.struct] ??= { sizeof: 0 } as StructLayout)[named.field] = Number(data.readBigUInt64LE(sym.value));
  }
  for (const s of REQUIRED_LAYOUT_STRUCTS) {
    if (!layout[s]?.sizeof) throw new LayoutError(`no layout for struct ${s}`, probeKo);
  }
  return layout;
}

export function field(layout: KlpLayout, struct: string, name: string): number {
  const v = layout[struct]?.[name];
  if (v === undefined) throw new LayoutError(`no offset for ${struct}.${name} in the layout`);
  return v;
}

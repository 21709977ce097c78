import { sectionData } from '../elf/reader.js';
import { loadModuleImageCached } from '../image/module-image.js';

/** Sizes and field offsets of the livepatch structures, read from the layout probe module. */
export type StructLayout = Record<string, number> & { sizeof: number };
export type KlpLayout = Record<string, StructLayout>;

const PREFIX = 'klp_layout__';

export class LayoutError extends Error {}

export function readLayout(probeKo: string): KlpLayout {
  const image = loadModuleImageCached(probeKo);
  const layout: KlpLayout = {};
  for (const sym of image.elf.symbols) {
    if (!sym.name.startsWith(PREFIX)) continue;
    const [struct, field] = sym.name.slice(PREFIX.length).split('__');
    const section = image.elf.sections[sym.shndx];
    if (!struct || !field || !section) continue;
    const data = sectionData(image.elf, section);
    if (sym.value + 8 > data.length) throw new LayoutError(`${probeKo}: layout symbol ${sym.name} lies outside its section`);
    (layout[struct] ??= { sizeof: 0 } as StructLayout)[field] = Number(data.readBigUInt64LE(sym.value));
  }
  for (const s of ['klp_func', 'klp_object', 'klp_patch', 'klp_callbacks']) {
    if (!layout[s]?.sizeof) throw new LayoutError(`${probeKo}: no layout for struct ${s}`);
  }
  return layout;
}

export function field(layout: KlpLayout, struct: string, name: string): number {
  const v = layout[struct]?.[name];
  if (v === undefined) throw new LayoutError(`no offset for ${struct}.${name} in the layout`);
  return v;
}

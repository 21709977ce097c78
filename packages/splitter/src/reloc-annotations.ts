import { kbuildModuleName } from '@klp-split/core';
import type { Item } from './item.js';
import type { SourceUnit } from './items.js';
import { MODULE_RELOC_RE, RELOC_SYMBOL_RE, SYMPOS_RE } from './reloc-annotation-mask.js';

/** The relocation annotations of a unit (their forms: reloc-annotation-mask.ts), read back from its items. */

/** What an annotation says about one symbol, by the name the C code uses for it. */
export interface AnnotatedSymbol {
  /** The symbol's object: 'vmlinux' or a module name (kbuild's '_' form). */
  object: string;
  symbol: string;
  sympos: number;
  /** KLP_RELOC_SYMBOL's lp_obj: where a classic livepatch puts the relocation. */
  lpObject?: string;
  form: 'KLP_RELOC_SYMBOL' | 'KLP_MODULE_RELOC';
  item: Item;
}

export interface RelocAnnotations {
  /** C name -> what its annotation says. */
  symbols: Map<string, AnnotatedSymbol>;
  /** The KLP_MODULE_RELOC arrays, with the object they name and the C names they list. */
  moduleRelocs: { item: Item; object: string; names: string[] }[];
}

/** The annotations of a unit's items. */
export function readRelocAnnotations(unit: Pick<SourceUnit, 'source' | 'items'>): RelocAnnotations {
  const symbols = new Map<string, AnnotatedSymbol>();
  const moduleRelocs: RelocAnnotations['moduleRelocs'] = [];
  if (!unit.source.includes('KLP_')) return { symbols, moduleRelocs };
  for (const item of unit.items) {
    if (item.kind !== 'prototype' && item.kind !== 'variable') continue;
    const text = item.text;
    if (!text.includes('KLP_')) continue;
    const list = [...text.matchAll(MODULE_RELOC_RE)][0];
    if (list) {
      const object = kbuildModuleName(list[1]!.trim());
      const names: string[] = [];
      for (const m of text.matchAll(SYMPOS_RE)) {
        names.push(m[1]!);
        symbols.set(m[1]!, { object, symbol: m[1]!, sympos: positionOf(m[2]!), form: 'KLP_MODULE_RELOC', item });
      }
      moduleRelocs.push({ item, object, names });
      continue;
    }
    const annotation = [...text.matchAll(RELOC_SYMBOL_RE)][0];
    const name = item.defines[0];
    if (!annotation || !name) continue;
    const args = annotation[2]!.split(',').map((a) => a.trim());
    if (args.length !== (annotation[1] ? 4 : 3)) continue;
    symbols.set(name, { lpObject: kbuildModuleName(args[0]!), object: kbuildModuleName(args[1]!), symbol: args[2]!, sympos: annotation[1] ? positionOf(args[3]!) : 0, form: 'KLP_RELOC_SYMBOL', item });
  }
  return { symbols, moduleRelocs };
}

function positionOf(text: string): number {
  const n = Number(text.replace(/[uUlL]+$/, ''));
  return Number.isInteger(n) && n >= 0 ? n : 0;
}

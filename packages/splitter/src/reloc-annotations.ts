import { kbuildModuleName } from '@klp-split/core';
import type { Item } from './item.js';
import { annotationCalls } from './mask.js';

/**
 * The livepatch relocation annotations authors write (klp-convert's two
 * forms), which say the object a symbol belongs to and its position there:
 * - `extern T name KLP_RELOC_SYMBOL_POS(lp_obj, sym_obj, sym, pos);` (and
 *   KLP_RELOC_SYMBOL without the position) after a declarator;
 * - `KLP_MODULE_RELOC(sym_obj) name[] = { KLP_SYMPOS(sym, pos), ... };`.
 * The parser sees them masked (mask.ts): the first as an ordinary `extern`
 * declaration of `name`, the second as an `int` array; the text keeps them
 * byte for byte. This is where their arguments are read, for the text
 * (relocAnnotations) and for placement (readRelocAnnotations).
 */

/** One KLP_RELOC_SYMBOL or KLP_RELOC_SYMBOL_POS in a text. */
export interface RelocAnnotation {
  form: 'KLP_RELOC_SYMBOL' | 'KLP_RELOC_SYMBOL_POS';
  /** The name the declaration declares (the C name the code uses). */
  declared?: string;
  /** The object whose `.klp.rela` section gets the relocation. */
  lpObject: string;
  /** The object the symbol is in (`vmlinux` or a module). */
  symObject: string;
  symbol: string;
  /** The position argument; 0 for KLP_RELOC_SYMBOL; undefined when it is not an integer literal. */
  sympos?: number;
  /** The annotation's offsets in the text (its name to its closing parenthesis). */
  start: number;
  end: number;
  /** 1-based line and column of the annotation's name. */
  line: number;
  col: number;
}

/** One KLP_MODULE_RELOC array in a text: the object it names and its KLP_SYMPOS entries. */
export interface ModuleReloc {
  symObject: string;
  entries: { symbol: string; sympos?: number }[];
}

const SYMBOL_FORMS = new Set(['KLP_RELOC_SYMBOL', 'KLP_RELOC_SYMBOL_POS']);
const MODULE_FORMS = new Set(['KLP_MODULE_RELOC', 'KLP_SYMPOS']);

/** Every KLP_RELOC_SYMBOL(_POS) in `text` whose arguments have the annotation's shape. */
export function relocAnnotations(text: string): RelocAnnotation[] {
  if (!text.includes('KLP_RELOC_SYMBOL')) return [];
  const out: RelocAnnotation[] = [];
  for (const call of annotationCalls(text, SYMBOL_FORMS)) {
    const args = splitArgs(text.slice(call.argsStart, call.argsEnd));
    const form = call.name as RelocAnnotation['form'];
    if (args.length !== (form === 'KLP_RELOC_SYMBOL' ? 3 : 4)) continue;
    const [lpObject, symObject, symbol, pos] = args as [string, string, string, string | undefined];
    const before = text.slice(Math.max(0, call.start - 300), call.start);
    const declared = /([A-Za-z_]\w*)\s*(?:\[[^\]]*\]\s*)*$/.exec(before)?.[1];
    const lineStart = text.lastIndexOf('\n', call.start - 1) + 1;
    const sympos = pos === undefined ? 0 : positionOf(pos);
    out.push({
      form,
      ...(declared ? { declared } : {}),
      lpObject,
      symObject,
      symbol,
      ...(sympos === undefined ? {} : { sympos }),
      start: call.start,
      end: call.end,
      line: (text.slice(0, call.start).match(/\n/g) ?? []).length + 1,
      col: call.start - lineStart + 1,
    });
  }
  return out;
}

/** Every KLP_MODULE_RELOC array in `text`, with the KLP_SYMPOS entries after it. */
export function moduleRelocs(text: string): ModuleReloc[] {
  if (!text.includes('KLP_MODULE_RELOC')) return [];
  const out: ModuleReloc[] = [];
  for (const call of annotationCalls(text, MODULE_FORMS)) {
    const args = splitArgs(text.slice(call.argsStart, call.argsEnd));
    if (call.name === 'KLP_MODULE_RELOC') {
      if (args.length === 1 && args[0]) out.push({ symObject: args[0], entries: [] });
    } else if (out.length && args.length === 2 && /^[A-Za-z_]\w*$/.test(args[0]!)) {
      const sympos = positionOf(args[1]!);
      out[out.length - 1]!.entries.push({ symbol: args[0]!, ...(sympos === undefined ? {} : { sympos }) });
    }
  }
  return out;
}

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

/** The annotations of a unit's items, by the names the items declare. */
export function readRelocAnnotations(unit: { source: string; items: readonly Item[] }): RelocAnnotations {
  const symbols = new Map<string, AnnotatedSymbol>();
  const lists: RelocAnnotations['moduleRelocs'] = [];
  if (!unit.source.includes('KLP_')) return { symbols, moduleRelocs: lists };
  for (const item of unit.items) {
    if (item.kind !== 'prototype' && item.kind !== 'variable') continue;
    if (!item.text.includes('KLP_')) continue;
    const list = moduleRelocs(item.text)[0];
    if (list) {
      const object = kbuildModuleName(list.symObject);
      for (const e of list.entries) symbols.set(e.symbol, { object, symbol: e.symbol, sympos: e.sympos ?? 0, form: 'KLP_MODULE_RELOC', item });
      lists.push({ item, object, names: list.entries.map((e) => e.symbol) });
      continue;
    }
    const annotation = relocAnnotations(item.text)[0];
    const name = item.defines[0];
    if (!annotation || !name) continue;
    symbols.set(name, { lpObject: kbuildModuleName(annotation.lpObject), object: kbuildModuleName(annotation.symObject), symbol: annotation.symbol, sympos: annotation.sympos ?? 0, form: 'KLP_RELOC_SYMBOL', item });
  }
  return { symbols, moduleRelocs: lists };
}

/** An integer literal (`2`, `2UL`), else undefined. */
function positionOf(text: string): number | undefined {
  const t = text.replace(/[uUlL]+$/, '');
  if (!/^(?:0[xX][0-9a-fA-F]+|\d+)$/.test(t)) return undefined;
  return Number(t);
}

/** Top-level comma-separated arguments, trimmed. */
function splitArgs(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let at = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      out.push(text.slice(at, i).trim());
      at = i + 1;
    }
  }
  out.push(text.slice(at).trim());
  return out;
}

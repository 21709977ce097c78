import { identifiersInText } from './c-identifiers.js';
import type { Cond, Item } from './item.js';
import { describe } from './item-kinds.js';
import { parseC, type Tree } from './parse.js';
import { dropShadowedNames } from './shadowing.js';
import { walkTopLevel } from './top-level.js';

export type { Cond, Item, Preamble } from './item.js';

export interface SourceUnit {
  source: string;
  tree: Tree;
  /** Comments that open the file (license, description) and the blank line after them. */
  header: string;
  /** Comments after the last item (a closing remark): a blank line first when the source has one, then the text and a newline; '' when none. */
  trailer: string;
  items: Item[];
  byName: Map<string, Item[]>;
  /** 1-based line and column of an offset. */
  positionAt: (offset: number) => { line: number; col: number };
}

/** 1-based line and column of an offset of `source`. */
export function lineIndex(source: string): (offset: number) => { line: number; col: number } {
  const starts = [0];
  for (let i = source.indexOf('\n'); i >= 0; i = source.indexOf('\n', i + 1)) starts.push(i + 1);
  return (offset) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, col: offset - starts[lo]! + 1 };
  };
}

export function readUnit(source: string): SourceUnit {
  const tree = parseC(source);
  // The parser saw the masked text: what differs before an item's first token is an annotation of the item.
  const found = walkTopLevel(source, tree, tree.rootNode.text);
  const items: Item[] = found.items.map((f, index) => {
    const item = describe(source, f.node, f.type, f.start, { line: f.node.startPosition.row + 1, col: 0 }, f.conds, index);
    item.end = f.end;
    item.preambles = f.preambles;
    return item;
  });
  const { headerEnd, trailerStart } = found;

  for (const item of items) {
    while (item.end > item.start && /\s/.test(source[item.end - 1]!)) item.end--;
    item.text = source.slice(item.start, item.end);
    if (item.kind !== 'macro') {
      for (const id of identifiersInText(source.slice(item.node.startIndex, item.end))) if (!item.defines.includes(id)) item.uses.add(id);
    }
    // The conditions an item is written under are part of its text: `#if LINUX_VERSION_CODE >= ...` needs
    // <linux/version.h>, `#ifdef HAVE_X` the part's own macro.
    for (const id of condIdentifiers(item.conds)) item.uses.add(id);
  }
  for (let i = 0; i < items.length; i++) {
    const next = items[i + 1];
    const between = source.slice(items[i]!.end, next ? next.start : source.length);
    const newlines = (between.match(/\n/g) ?? []).length;
    items[i]!.gap = newlines >= 2 && next ? '\n\n' : '\n';
  }

  const byName = new Map<string, Item[]>();
  for (const item of items) {
    for (const name of item.defines) {
      const list = byName.get(name) ?? [];
      list.push(item);
      byName.set(name, list);
    }
  }
  for (const item of items) if (item.kind === 'function') dropShadowedNames(item, byName, source);
  let trailer = '';
  if (trailerStart < source.length) {
    const before = source.slice(items[items.length - 1]!.end, trailerStart);
    trailer = `${(before.match(/\n/g) ?? []).length >= 2 ? '\n' : ''}${source.slice(trailerStart).replace(/\s+$/, '')}\n`;
  }
  return { source, tree, header: source.slice(0, headerEnd), trailer, items, byName, positionAt: lineIndex(source) };
}

/** Identifiers the directives of conditionals test (`defined` aside). */
export function condIdentifiers(conds: readonly Cond[]): string[] {
  const out: string[] = [];
  for (const c of conds) {
    for (const d of c.directives) for (const id of identifiersInText(d.replace(/^\s*#\s*\w+/, ''))) if (id !== 'defined') out.push(id);
  }
  return out;
}

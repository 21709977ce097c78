import { identifiersInText } from './c-identifiers.js';
import type { Cond, Item } from './item.js';
import { describe } from './item-kinds.js';
import { parseC, type SyntaxNode, type Tree } from './parse.js';
import { dropShadowedNames } from './shadowing.js';

export type { Cond, Item } from './item.js';

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

/** A top-level child as the cursor sees it; the node object is only made for items. */
interface Child {
  type: string;
  start: number;
  end: number;
  startRow: number;
  endRow: number;
  node: () => SyntaxNode;
}

function childOf(node: SyntaxNode): Child {
  return {
    type: node.type,
    start: node.startIndex,
    end: node.endIndex,
    startRow: node.startPosition.row,
    endRow: node.endPosition.row,
    node: () => node,
  };
}

export function readUnit(source: string): SourceUnit {
  const tree = parseC(source);
  const items: Item[] = [];
  const pendingComments: Child[] = [];
  let headerEnd = 0;
  let sawItem = false;
  let prevEndRow = -1;

  const addItem = (child: Child, conds: Cond[]): void => {
    const prev = items[items.length - 1];
    if (child.type === ';' && prev && prev.kind === 'type') {
      prev.end = child.end;
      return;
    }
    if (child.type === 'comment') {
      if (prev && prevEndRow === child.startRow && pendingComments.length === 0) {
        prev.end = child.end;
      } else {
        pendingComments.push(child);
      }
      return;
    }
    if (!sawItem) {
      sawItem = true;
      headerEnd = leadingHeaderEnd(source, pendingComments, child.start);
      while (pendingComments.length && pendingComments[0]!.start < headerEnd) pendingComments.shift();
    }
    const start = pendingComments.length ? pendingComments[0]!.start : child.start;
    pendingComments.length = 0;
    prevEndRow = child.endRow;
    items.push(describe(source, child.node(), child.type, start, { line: child.startRow + 1, col: 0 }, conds, items.length));
  };

  // The translation unit's children through a cursor: most are items or comments.
  const walk = (root: SyntaxNode): void => {
    const cursor = root.walk();
    if (!cursor.gotoFirstChild()) return;
    do {
      const type = cursor.nodeType;
      if (type === 'preproc_ifdef' || type === 'preproc_if') {
        walkConditional(cursor.currentNode, []);
        continue;
      }
      const start = cursor.startIndex;
      const end = cursor.endIndex;
      const startRow = cursor.startPosition.row;
      const endRow = cursor.endPosition.row;
      const current = type === 'comment' || type === ';' ? undefined : cursor.currentNode;
      addItem({ type, start, end, startRow, endRow, node: () => current! }, []);
    } while (cursor.gotoNextSibling());
  };

  const walkConditional = (node: SyntaxNode, conds: Cond[]): void => {
    const open = node.text.split('\n')[0]!.trimEnd();
    const alt = node.childForFieldName('alternative');
    const elseText = alt ? alt.text.split('\n')[0]!.trimEnd() : '#else';
    const thenConds = [...conds, { open, branch: 'then' as const, elseText, at: node.startIndex }];
    const elseConds = [...conds, { open, branch: 'else' as const, elseText, at: node.startIndex }];
    // The ';' after a struct definition is an anonymous node: it stays with the struct.
    for (const child of node.children.filter((c) => c.isNamed || c.type === ';')) {
      if (child === alt || child.startIndex === alt?.startIndex) continue;
      if (child === node.childForFieldName('name') || child === node.childForFieldName('condition')) continue;
      if (child.type === 'preproc_ifdef' || child.type === 'preproc_if') walkConditional(child, thenConds);
      else addItem(childOf(child), thenConds);
    }
    if (alt) {
      for (const child of alt.children.filter((c) => c.isNamed || c.type === ';')) {
        if (child.type === 'preproc_ifdef' || child.type === 'preproc_if') walkConditional(child, elseConds);
        else addItem(childOf(child), elseConds);
      }
    }
  };

  // Items are only read from a tree without ERROR or MISSING nodes: an error node's children are not the shapes
  // describe() expects (an unterminated char literal leaves a declaration without a declarator). The caller
  // reports the syntax errors (reportSyntaxErrors) and stops.
  if (!tree.rootNode.hasError) walk(tree.rootNode);
  if (!sawItem) headerEnd = source.length;
  // Comments after the last item belong to no item: kept as the file's trailer, not dropped.
  const trailerStart = sawItem && pendingComments.length ? pendingComments[0]!.start : source.length;

  for (const item of items) {
    while (item.end > item.start && /\s/.test(source[item.end - 1]!)) item.end--;
    item.text = source.slice(item.start, item.end);
    if (item.kind !== 'macro') {
      for (const id of identifiersInText(source.slice(item.node.startIndex, item.end))) if (!item.defines.includes(id)) item.uses.add(id);
    }
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

/**
 * The file header is every comment before the first item, except a comment
 * that sits right above the item (no blank line between): that one documents
 * the item.
 */
function leadingHeaderEnd(source: string, comments: Child[], firstStart: number): number {
  let attachedFrom = comments.length;
  let nextStart = firstStart;
  for (let i = comments.length - 1; i >= 0; i--) {
    const between = source.slice(comments[i]!.end, nextStart);
    if ((between.match(/\n/g) ?? []).length >= 2) break;
    attachedFrom = i;
    nextStart = comments[i]!.start;
  }
  // The SPDX line always opens every file, whatever follows it.
  if (attachedFrom === 0 && source.slice(comments[0]?.start ?? 0, comments[0]?.end ?? 0).includes('SPDX-License-Identifier')) attachedFrom = 1;
  if (attachedFrom === 0) return 0;
  const last = comments[attachedFrom - 1]!;
  const rest = source.slice(last.end, attachedFrom < comments.length ? comments[attachedFrom]!.start : firstStart);
  const blank = rest.match(/^[ \t]*\n(?:[ \t]*\n)?/);
  return last.end + (blank ? blank[0].length : 0);
}

import type { SyntaxNode, Tree } from './parse.js';

/**
 * Reads a C file's top level as a sequence of items for the splitter, which
 * moves whole items between files: what text each item owns and under which
 * preprocessor conditionals it stands.
 *
 * - An item owns the comments right above it in its own branch of a
 *   conditional, a comment on its last line, and the `;` that ends a
 *   `struct x { ... };`.
 * - Comments just before an `#if` describe the block: they travel with the
 *   block's first item and are written before the block's directive (a
 *   preamble), never inside it.
 * - A comment at the end of a branch (before `#else`/`#endif`) ends the
 *   branch's last item; with no item before it in the branch (or only a
 *   nested block) it has nothing to describe and is left out.
 * - `#undef X` right before `#define X` belongs to the definition.
 * - A comment on a directive's own line (`#endif /* CONFIG_X *\/`) is part of
 *   the directive, which the renderer writes as it was.
 * - The comments that open the file are its header; those after the last
 *   item its trailer.
 * - A GNU attribute or kernel annotation before an item's first token
 *   (`__printf(1, 2) static void ...`), which the parser sees blanked
 *   (mask.ts), belongs to the item.
 */

/** One enclosing preprocessor conditional: the block and which of its branches the item is in. */
export interface Cond {
  /** The directive lines that open each branch up to the item's, as written: `#if A`, `#elif B`, `#else`. */
  directives: string[];
  /** The block's `#endif` line as written (with its comment). */
  endif: string;
  /** A blank line follows the block's `#endif` in the original. */
  blankAfter: boolean;
  /** The block's first directive (`directives[0]`). */
  open: string;
  /** 'then' for the first branch, 'else' for any later one (`#elif`, `#else`). */
  branch: 'then' | 'else';
  /** Start offset of the conditional, to tell two blocks with the same text apart. */
  at: number;
}

/** Comments before a conditional, written before its directive by whichever part gets its first item. */
export interface Preamble {
  /** The index in the item's `conds` of the block the comments precede. */
  level: number;
  /** The comments, up to the directive (the line break before it included). */
  text: string;
}

/** What the walker tells the caller about one item it found. */
export interface FoundItem {
  node: SyntaxNode;
  type: string;
  /** Where the item's text starts: its leading comments or annotations, else its node. */
  start: number;
  end: number;
  conds: Cond[];
  preambles: Preamble[];
}

export interface TopLevel {
  items: FoundItem[];
  /** End of the file's header comments (0 when none). */
  headerEnd: number;
  /** Start of the comments after the last item (the source's length when none). */
  trailerStart: number;
}

/** A child as the walker sees it; the node object is only made for items (the top level goes through a cursor). */
interface Child {
  type: string;
  named: boolean;
  start: number;
  end: number;
  startRow: number;
  endRow: number;
  node: () => SyntaxNode;
}

interface Scope {
  /** Comments seen since the scope's last item. */
  pending: Child[];
  last?: FoundItem;
  lastEndRow: number;
}

interface OpenPreamble extends Preamble {
  comments: Child[];
}

function childOf(node: SyntaxNode): Child {
  return { type: node.type, named: node.isNamed, start: node.startIndex, end: node.endIndex, startRow: node.startPosition.row, endRow: node.endPosition.row, node: () => node };
}

const isConditional = (type: string): boolean => type === 'preproc_if' || type === 'preproc_ifdef';

/** The end of the directive starting at `start`: its line, continuation lines and a block comment begun on it. */
export function directiveEnd(source: string, start: number): number {
  let i = start;
  while (i < source.length && source[i] !== '\n') {
    if (source[i] === '\\' && source[i + 1] === '\n') i += 2;
    else if (source[i] === '/' && source[i + 1] === '*') {
      const e = source.indexOf('*/', i + 2);
      i = e < 0 ? source.length : e + 2;
    } else i++;
  }
  return i;
}

/**
 * Walks a parsed file's top level. `masked` is the text the parser saw
 * (annotations blanked): what differs from `source` before an item's first
 * token is an annotation of the item.
 */
export function walkTopLevel(source: string, tree: Tree, masked: string): TopLevel {
  const items: FoundItem[] = [];
  const top: Scope = { pending: [], lastEndRow: -1 };
  let headerEnd: number | undefined;
  // Comments before this offset are on a directive's line (the directive keeps them).
  let skipUntil = 0;
  // Where the previous child ended: an item's annotations are looked for after it.
  let floor = 0;
  const open: OpenPreamble[] = [];

  const header = (firstStart: number, first: string): void => {
    if (headerEnd !== undefined) return;
    // Only comments make the header (an `#undef` waiting for its `#define` does not).
    const firstOther = top.pending.findIndex((p) => p.type !== 'comment');
    const comments = firstOther < 0 ? top.pending : top.pending.slice(0, firstOther);
    headerEnd = leadingHeaderEnd(source, comments, firstOther < 0 ? firstStart : top.pending[firstOther]!.start, first === 'preproc_include');
    while (top.pending.length && top.pending[0]!.start < headerEnd) top.pending.shift();
  };

  const annotatedStart = (start: number): number => {
    let first = start;
    for (let i = start - 1; i >= floor; i--) {
      const c = source[i]!;
      if (c !== masked[i]) first = i;
      else if (c !== ' ' && c !== '\t' && c !== '\n') break;
    }
    return first;
  };

  const onChild = (c: Child, conds: Cond[], scope: Scope): void => {
    if (c.type === 'comment') {
      if (c.start < skipUntil) return;
      floor = c.end;
      if (scope.last && scope.lastEndRow === c.startRow && scope.pending.length === 0) scope.last.end = c.end;
      else scope.pending.push(c);
      return;
    }
    if (c.type === ';') {
      // The `;` of `struct x { ... };` (or a stray one) ends the item before it.
      if (scope.last) scope.last.end = c.end;
      floor = c.end;
      return;
    }
    if (!c.named) return;
    if (c.type === 'preproc_call' && undefinesNext(source, c.node())) {
      // `#undef X` right before `#define X` is part of the redefinition: it goes where the definition goes.
      scope.pending.push(c);
      floor = c.end;
      return;
    }
    if (isConditional(c.type)) {
      if (scope === top) header(c.start, c.type);
      conditional(c.node(), conds, scope);
      // Text after the block is no longer next to the item before it.
      scope.last = undefined;
      return;
    }
    const own = annotatedStart(c.start);
    if (scope === top) header(own, c.type);
    const start = scope.pending.length ? scope.pending[0]!.start : own;
    scope.pending.length = 0;
    const item: FoundItem = { node: c.node(), type: c.type, start, end: c.end, conds, preambles: open.splice(0).map(({ level, text }) => ({ level, text })) };
    items.push(item);
    scope.last = item;
    // A directive's node (`#define`, `#include`) ends past its line's newline: its row is the one before.
    scope.lastEndRow = source[c.end - 1] === '\n' ? c.endRow - 1 : c.endRow;
    floor = c.end;
  };

  const conditional = (node: SyntaxNode, conds: Cond[], scope: Scope): void => {
    const preamble: OpenPreamble | undefined = scope.pending.length
      ? { level: conds.length, text: source.slice(scope.pending[0]!.start, node.startIndex), comments: scope.pending.splice(0) }
      : undefined;
    if (preamble) open.push(preamble);
    const branches: { directive: string; end: number; children: SyntaxNode[] }[] = [];
    for (let b: SyntaxNode | null = node; b; ) {
      const end = directiveEnd(source, b.startIndex);
      const alt: SyntaxNode | null = b.childForFieldName('alternative');
      const children = b.children.filter((c) => c.startIndex >= end && c.type !== '#endif' && (!alt || c.startIndex < alt.startIndex));
      branches.push({ directive: source.slice(b.startIndex, end).trimEnd(), end, children });
      b = alt;
    }
    const endifNode = node.children.find((c) => c.type === '#endif');
    const endifEnd = endifNode ? directiveEnd(source, endifNode.startIndex) : node.endIndex;
    const endif = endifNode ? source.slice(endifNode.startIndex, endifEnd).trimEnd() : '#endif';
    const directives = branches.map((b) => b.directive);
    const blankAfter = /^[ \t]*\n[ \t]*\n/.test(source.slice(endifEnd));
    branches.forEach((branch, k) => {
      const cond: Cond = { directives: directives.slice(0, k + 1), endif, blankAfter, open: directives[0]!, branch: k === 0 ? 'then' : 'else', at: node.startIndex };
      const inner: Scope = { pending: [], lastEndRow: -1 };
      floor = branch.end;
      skipUntil = Math.max(skipUntil, branch.end);
      for (const child of branch.children) onChild(childOf(child), [...conds, cond], inner);
      // Comments that close a branch end its last item; alone in a branch they go with it.
      if (inner.pending.length && inner.last) inner.last.end = inner.pending[inner.pending.length - 1]!.end;
    });
    skipUntil = Math.max(skipUntil, endifEnd);
    floor = Math.max(floor, endifEnd);
    // A block without items: its comments (and the empty block) lead whatever follows.
    if (preamble && open.includes(preamble)) {
      open.splice(open.indexOf(preamble), 1);
      scope.pending.unshift(...preamble.comments);
    }
  };

  // Items are only read from a tree without ERROR or MISSING nodes: an error node's children are not the shapes
  // the caller expects. The caller reports the syntax errors and stops.
  if (!tree.rootNode.hasError) {
    const cursor = tree.rootNode.walk();
    if (cursor.gotoFirstChild()) {
      do {
        const type = cursor.nodeType;
        const current = type === 'comment' || type === ';' ? undefined : cursor.currentNode;
        onChild({ type, named: cursor.nodeIsNamed, start: cursor.startIndex, end: cursor.endIndex, startRow: cursor.startPosition.row, endRow: cursor.endPosition.row, node: () => current! }, [], top);
      } while (cursor.gotoNextSibling());
    }
  }
  const end = headerEnd ?? source.length;
  // Comments after the last item belong to no item: kept as the file's trailer, not dropped.
  const trailerStart = items.length && top.pending.length ? top.pending[0]!.start : source.length;
  return { items, headerEnd: items.length ? end : headerEnd ?? source.length, trailerStart };
}

/** `#undef X` followed by a definition of X. */
function undefinesNext(source: string, node: SyntaxNode): boolean {
  const name = /^#[ \t]*undef[ \t]+([A-Za-z_]\w*)/.exec(source.slice(node.startIndex, node.endIndex))?.[1];
  const next = name ? node.nextNamedSibling : null;
  return !!next && (next.type === 'preproc_def' || next.type === 'preproc_function_def') && next.childForFieldName('name')?.text === name;
}

/**
 * The file header is every comment before the first item, except a comment
 * that sits right above the item (no blank line between): that one documents
 * the item. Comments that open the file with nothing but comments down to the
 * first item, or that stand above an `#include`, describe the file.
 */
function leadingHeaderEnd(source: string, comments: Child[], firstStart: number, firstIsInclude: boolean): number {
  if (!comments.length) return 0;
  let attachedFrom = comments.length;
  let nextStart = firstStart;
  for (let i = comments.length - 1; i >= 0; i--) {
    const between = source.slice(comments[i]!.end, nextStart);
    if ((between.match(/\n/g) ?? []).length >= 2) break;
    attachedFrom = i;
    nextStart = comments[i]!.start;
  }
  if (firstIsInclude || (attachedFrom === 0 && /^\s*$/.test(source.slice(0, comments[0]!.start)))) attachedFrom = comments.length;
  // The SPDX line always opens every file, whatever follows it.
  if (attachedFrom === 0 && source.slice(comments[0]!.start, comments[0]!.end).includes('SPDX-License-Identifier')) attachedFrom = 1;
  if (attachedFrom === 0) return 0;
  const last = comments[attachedFrom - 1]!;
  const rest = source.slice(last.end, attachedFrom < comments.length ? comments[attachedFrom]!.start : firstStart);
  const blank = rest.match(/^[ \t]*\n(?:[ \t]*\n)?/);
  return last.end + (blank ? blank[0].length : 0);
}

import { parseC, type SyntaxNode, type Tree } from './parse.js';
import { syscallDefinitions, syscallEntryPoints, syscallFunctionName } from './syscall-define.js';

/**
 * The top-level items of a C file, with what each defines and uses. The
 * splitter moves whole items between files, so an item owns its leading
 * comments and a trailing comment on its last line.
 */
type ItemKind = 'include' | 'macro' | 'function' | 'variable' | 'prototype' | 'type' | 'call' | 'other';

/** One enclosing preprocessor conditional: `#ifdef X` and which branch the item is in. */
export interface Cond {
  open: string;
  branch: 'then' | 'else';
  elseText: string;
  /** Start offset of the conditional, to tell two blocks with the same text apart. */
  at: number;
}

export interface Item {
  index: number;
  kind: ItemKind;
  node: SyntaxNode;
  start: number;
  end: number;
  text: string;
  /** Blank lines that followed the item in the original ('\n' or '\n\n'). */
  gap: string;
  defines: string[];
  uses: Set<string>;
  conds: Cond[];
  pos: { line: number; col: number };
  isStatic: boolean;
  isInline: boolean;
  /** For variables: the object itself cannot change (so copies are harmless). */
  isConst: boolean;
  /** For functions: has a `static` local, so copies would not share it. */
  stateful: boolean;
  /** For variables and prototypes: the struct tag of the declared type (`klp_func`). */
  structTag?: string;
  isArray: boolean;
  /** For top-level macro invocations such as `module_param(x, int, 0644);`. */
  call?: { name: string; args: SyntaxNode[] };
}

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
    for (const child of node.namedChildren) {
      if (child === alt || child.startIndex === alt?.startIndex) continue;
      if (child === node.childForFieldName('name') || child === node.childForFieldName('condition')) continue;
      if (child.type === 'preproc_ifdef' || child.type === 'preproc_if') walkConditional(child, thenConds);
      else addItem(childOf(child), thenConds);
    }
    if (alt) {
      for (const child of alt.namedChildren) {
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
 * A parameter or local variable named like a top-level item hides it. The
 * text test is cheap and only a possible declaration sends the function
 * through the syntax tree.
 */
function dropShadowedNames(item: Item, byName: Map<string, Item[]>, source: string): void {
  let text: string | undefined;
  const suspects: string[] = [];
  for (const n of item.uses) {
    if (!byName.has(n)) continue;
    text ??= stripStringsAndComments(source.slice(item.node.startIndex, item.end));
    if (mayDeclare(text, n)) suspects.push(n);
  }
  if (!suspects.length) return;
  const locals = localNames(item.node);
  for (const n of suspects) if (locals.has(n)) item.uses.delete(n);
}

/** `T name =`, `T *name;`, `(T name,`: the name follows a type or a star and precedes = ; , [ or ). */
function mayDeclare(text: string, name: string): boolean {
  const word = /[A-Za-z0-9_]/;
  for (let at = text.indexOf(name); at >= 0; at = text.indexOf(name, at + 1)) {
    const before = text[at - 1] ?? ' ';
    const after = text[at + name.length] ?? ' ';
    if (word.test(before) || word.test(after)) continue;
    let i = at - 1;
    while (i >= 0 && (text[i] === ' ' || text[i] === '\t')) i--;
    let j = at + name.length;
    while (j < text.length && (text[j] === ' ' || text[j] === '\t')) j++;
    if ((word.test(text[i] ?? '') || text[i] === '*') && '=;,[)'.includes(text[j] ?? '.')) return true;
  }
  return false;
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

function describe(source: string, node: SyntaxNode, type: string, start: number, pos: { line: number; col: number }, conds: Cond[], index: number): Item {
  const fn = type === 'function_definition' ? functionHead(source, node) : undefined;
  const specifiers = fn ? fn.specifiers : specifierText(source, node, type);
  pos.col = node.startIndex - source.lastIndexOf('\n', node.startIndex - 1);
  const item: Item = {
    index,
    kind: 'other',
    node,
    start,
    end: node.endIndex,
    text: '',
    gap: '\n',
    defines: [],
    uses: new Set(),
    conds,
    pos,
    isStatic: /\bstatic\b/.test(specifiers),
    isInline: /\binline\b/.test(specifiers),
    isConst: false,
    stateful: false,
    isArray: false,
  };
  switch (type) {
    case 'preproc_include':
      item.kind = 'include';
      break;
    case 'preproc_def':
    case 'preproc_function_def': {
      item.kind = 'macro';
      const name = node.childForFieldName('name');
      if (name) item.defines.push(name.text);
      const value = node.childForFieldName('value');
      if (value) for (const id of identifiersInText(value.text)) item.uses.add(id);
      return item;
    }
    case 'function_definition': {
      item.kind = 'function';
      // KLP_SYSCALL_DEFINEn(name, ...) defines the syscall's entry points, which klp_func entries name.
      const syscall = syscallDefinitions(source.slice(node.startIndex, fn!.bodyStart))[0];
      if (syscall) item.defines.push(...syscallEntryPoints(syscall), syscallFunctionName(syscall));
      else if (fn!.name) item.defines.push(fn!.name);
      item.stateful = /\bstatic\b/.test(stripStringsAndComments(source.slice(fn!.bodyStart, item.end)));
      return item;
    }
    case 'declaration':
      if (!describePlainStructVariable(source, node, item)) describeDeclaration(node, item, /\bextern\b/.test(specifiers));
      break;
    case 'type_definition': {
      item.kind = 'type';
      for (const d of node.childrenForFieldName('declarator')) {
        const n = declaredName(d);
        if (n) item.defines.push(n);
      }
      defineTypeBody(node.childForFieldName('type'), item);
      break;
    }
    case 'struct_specifier':
    case 'union_specifier':
    case 'enum_specifier':
      item.kind = 'type';
      defineTypeBody(node, item);
      break;
    case 'expression_statement': {
      const call = node.namedChildren[0];
      if (call?.type === 'call_expression') {
        item.kind = 'call';
        const fn = call.childForFieldName('function');
        const args = call.childForFieldName('arguments')?.namedChildren ?? [];
        item.call = { name: fn?.text ?? '', args };
        // `DECLARE_STATIC_KEY_FALSE(key);` declares and `DEFINE_SPINLOCK(lock);` defines their first argument.
        const defined = /^(DECLARE|DEFINE)_[A-Z0-9_]+$/.exec(item.call.name);
        if (defined && args[0]?.type === 'identifier') {
          item.kind = defined[1] === 'DECLARE' ? 'prototype' : 'variable';
          item.defines.push(args[0].text);
          item.call = undefined;
        }
      }
      break;
    }
    default:
      break;
  }
  return item;
}

/**
 * A function definition's name, specifiers and body start, from its text
 * when the head is plain (`static int *name(args) {`), else from the tree.
 */
function functionHead(source: string, node: SyntaxNode): { name?: string; specifiers: string; bodyStart: number } {
  const start = node.startIndex;
  const brace = source.indexOf('{', start);
  const head = stripStringsAndComments(source.slice(start, brace < 0 ? node.endIndex : brace));
  const m = /^([^()]*?)\b([A-Za-z_]\w*)\s*\(/.exec(head);
  if (m && brace >= 0 && !m[2]!.startsWith('__') && !head.includes('(*')) {
    return { name: m[2], specifiers: m[1]!, bodyStart: brace };
  }
  const declarator = node.childForFieldName('declarator');
  const body = node.childForFieldName('body');
  return {
    name: declaredName(declarator),
    specifiers: stripStringsAndComments(source.slice(start, declarator ? declarator.startIndex : start)),
    bodyStart: body ? body.startIndex : node.endIndex,
  };
}

/** The declaration specifiers' text: everything before the first declarator. */
function specifierText(source: string, node: SyntaxNode, type: string): string {
  if (type !== 'declaration') return '';
  const declarator = node.childForFieldName('declarator');
  return stripStringsAndComments(source.slice(node.startIndex, declarator ? declarator.startIndex : node.endIndex));
}

/**
 * `static [const] struct tag name[N] = {`: by far the most common top-level
 * declaration of a livepatch (its klp_func arrays), read from the text.
 */
const PLAIN_STRUCT_VARIABLE = /^((?:(?:static|const)\s+)*)struct\s+([A-Za-z_]\w*)\s+([A-Za-z_]\w*)\s*(\[\s*\w*\s*\])?\s*=\s*\{/;

function describePlainStructVariable(source: string, node: SyntaxNode, item: Item): boolean {
  const m = PLAIN_STRUCT_VARIABLE.exec(source.slice(node.startIndex, Math.min(node.endIndex, node.startIndex + 200)));
  if (!m) return false;
  item.kind = 'variable';
  item.structTag = m[2];
  item.defines.push(m[3]!);
  item.isArray = !!m[4];
  item.isConst = /\bconst\b/.test(m[1]!);
  return true;
}

function describeDeclaration(node: SyntaxNode, item: Item, isExtern: boolean): void {
  const declarators = node.childrenForFieldName('declarator');
  const isFunctionDecl = declarators.some((d) => innermostKind(d) === 'function_declarator');
  item.kind = isFunctionDecl || isExtern ? 'prototype' : declarators.length ? 'variable' : 'type';
  if (isFunctionDecl && declarators.length === 1 && describeDefineMacro(declarators[0]!, item)) return;
  for (const d of declarators) {
    const n = declaredName(d);
    if (n) item.defines.push(n);
    if (hasDescendant(d, 'array_declarator')) item.isArray = true;
  }
  const type = node.childForFieldName('type');
  if (type?.type === 'struct_specifier' || type?.type === 'union_specifier') {
    item.structTag = type.childForFieldName('name')?.text;
  }
  defineTypeBody(type, item);
  if (item.kind === 'variable') item.isConst = declaresConstObject(node, declarators[0]);
}

/**
 * `static DEFINE_MUTEX(lock);` parses as a function declaration; it defines a
 * variable named by its first argument.
 */
function describeDefineMacro(declarator: SyntaxNode, item: Item): boolean {
  const macro = declaredName(declarator);
  if (!macro || !/^(?:DEFINE|DECLARE)_[A-Z0-9_]+$|^LIST_HEAD$/.test(macro)) return false;
  const params = declarator.childForFieldName('parameters')?.namedChildren ?? [];
  const first = params[0] ? declaredName(params[0]) ?? params[0].text : undefined;
  if (!first) return false;
  item.kind = 'variable';
  item.defines.push(first);
  item.uses.add(macro);
  return true;
}

/** `const T x`, `const T *const x[]`: the stored object is const. */
function declaresConstObject(decl: SyntaxNode, declarator: SyntaxNode | undefined): boolean {
  let d = declarator?.type === 'init_declarator' ? declarator.childForFieldName('declarator') : declarator;
  while (d?.type === 'array_declarator') d = d.childForFieldName('declarator');
  if (d?.type === 'pointer_declarator') {
    return d.children.some((c) => c.type === 'type_qualifier' && c.text === 'const');
  }
  return decl.children.some((c) => c.type === 'type_qualifier' && c.text === 'const');
}

function defineTypeBody(type: SyntaxNode | null | undefined, item: Item): void {
  if (!type) return;
  if ((type.type === 'struct_specifier' || type.type === 'union_specifier' || type.type === 'enum_specifier') && type.childForFieldName('body')) {
    const tag = type.childForFieldName('name');
    if (tag) item.defines.push(tag.text);
    if (type.type === 'enum_specifier') {
      for (const e of type.childForFieldName('body')!.namedChildren) {
        const n = e.childForFieldName('name');
        if (e.type === 'enumerator' && n) item.defines.push(n.text);
      }
    }
  }
}

/** The identifier a declarator declares, through pointers, arrays, calls and initializers. */
export function declaredName(d: SyntaxNode | null | undefined): string | undefined {
  let node = d;
  while (node) {
    if (node.type === 'identifier' || node.type === 'type_identifier' || node.type === 'field_identifier') return node.text;
    node = node.childForFieldName('declarator') ?? node.namedChildren.find((c) => c.type.endsWith('declarator') || c.type === 'identifier');
  }
  return undefined;
}

/**
 * The declarator operator nearest the declared name decides what it is:
 * `*f(void)` is a function, `(*hook)(int)` a pointer variable.
 */
export function innermostKind(d: SyntaxNode): string {
  let node: SyntaxNode | null = d.type === 'init_declarator' ? d.childForFieldName('declarator') : d;
  let kind = '';
  while (node && node.type !== 'identifier') {
    if (node.type !== 'parenthesized_declarator') kind = node.type;
    node = node.childForFieldName('declarator') ?? node.namedChildren.find((c) => c.type.endsWith('declarator') || c.type === 'identifier') ?? null;
  }
  return kind;
}

function hasDescendant(node: SyntaxNode, type: string): boolean {
  return node.descendantsOfType(type).length > 0;
}

/** Parameter and local variable names, which shadow top-level names. */
function localNames(fn: SyntaxNode): Set<string> {
  const names = new Set<string>();
  for (const p of fn.descendantsOfType('parameter_declaration')) {
    const n = declaredName(p.childForFieldName('declarator'));
    if (n) names.add(n);
  }
  const body = fn.childForFieldName('body');
  if (body) {
    for (const d of body.descendantsOfType('declaration')) {
      for (const decl of d.childrenForFieldName('declarator')) {
        const n = declaredName(decl);
        if (n) names.add(n);
      }
    }
  }
  return names;
}

const IDENT_OR_MEMBER_RE = /(->|\.)?\s*\b([A-Za-z_][A-Za-z0-9_]*)/g;

function stripStringsAndComments(text: string): string {
  return text.replace(/"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'/g, '""').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, ' ');
}

/** Identifiers a piece of C mentions, outside strings, comments and member accesses (`a.b`, `p->b`). */
export function identifiersInText(text: string): string[] {
  const out: string[] = [];
  for (const m of stripStringsAndComments(text).matchAll(IDENT_OR_MEMBER_RE)) if (!m[1]) out.push(m[2]!);
  return out;
}

/** Every identifier a node mentions (outside strings and comments). */
export function identifiersIn(node: SyntaxNode): Set<string> {
  return new Set(identifiersInText(node.text));
}

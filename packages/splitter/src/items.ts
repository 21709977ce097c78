import { parseC, type SyntaxNode, type Tree } from './parse.js';
import { walkTopLevel, type Cond, type Preamble } from './top-level.js';

/**
 * The top-level items of a C file, with what each defines and uses. The
 * splitter moves whole items between files, so an item owns its leading
 * comments and a trailing comment on its last line.
 */
type ItemKind = 'include' | 'macro' | 'function' | 'variable' | 'prototype' | 'type' | 'call' | 'other';

export type { Cond, Preamble } from './top-level.js';

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
  /** Comments before conditionals this item is the first item of, written before their directives. */
  preambles: Preamble[];
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

function lineIndex(source: string): (offset: number) => { line: number; col: number } {
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
  const found = walkTopLevel(source, tree, tree.rootNode.text);
  const items: Item[] = found.items.map((f, index) => {
    const item = describe(source, f.node, f.type, f.start, { line: f.node.startPosition.row + 1, col: 0 }, f.conds, index);
    item.end = f.end;
    item.preambles = f.preambles;
    return item;
  });
  const headerEnd = found.headerEnd;
  const trailerStart = found.trailerStart;

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
function condIdentifiers(conds: readonly Cond[]): string[] {
  const out: string[] = [];
  for (const c of conds) {
    for (const d of c.directives) for (const id of identifiersInText(d.replace(/^\s*#\s*\w+/, ''))) if (id !== 'defined') out.push(id);
  }
  return out;
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
    preambles: [],
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
      if (fn!.name) item.defines.push(fn!.name);
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
function innermostKind(d: SyntaxNode): string {
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
export function localNames(fn: SyntaxNode): Set<string> {
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

import { parseC, position, type SyntaxNode, type Tree } from './parse.js';

/**
 * The top-level items of a C file, with what each defines and uses. The
 * splitter moves whole items between files, so an item owns its leading
 * comments and a trailing comment on its last line.
 */
export type ItemKind = 'include' | 'macro' | 'function' | 'variable' | 'prototype' | 'type' | 'call' | 'other';

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
  items: Item[];
  byName: Map<string, Item[]>;
}

const IDENT_RE = /[A-Za-z_][A-Za-z0-9_]*/g;

export function readUnit(source: string): SourceUnit {
  const tree = parseC(source);
  const items: Item[] = [];
  const pendingComments: SyntaxNode[] = [];
  let headerEnd = 0;
  let sawItem = false;

  const addItem = (node: SyntaxNode, conds: Cond[]): void => {
    const prev = items[items.length - 1];
    if (node.type === ';' && prev && prev.node.endIndex <= node.startIndex && prev.kind === 'type') {
      prev.end = node.endIndex;
      return;
    }
    if (node.type === 'comment') {
      if (prev && prev.node.endPosition.row === node.startPosition.row && pendingComments.length === 0) {
        prev.end = node.endIndex;
      } else {
        pendingComments.push(node);
      }
      return;
    }
    if (!sawItem) {
      sawItem = true;
      headerEnd = leadingHeaderEnd(source, pendingComments, node);
      while (pendingComments.length && pendingComments[0]!.startIndex < headerEnd) pendingComments.shift();
    }
    const start = pendingComments.length ? pendingComments[0]!.startIndex : node.startIndex;
    pendingComments.length = 0;
    items.push(describe(node, start, conds, items.length));
  };

  const walk = (parent: SyntaxNode, conds: Cond[]): void => {
    for (const child of parent.children) {
      if (child.type === 'preproc_ifdef' || child.type === 'preproc_if') {
        walkConditional(child, conds);
      } else {
        addItem(child, conds);
      }
    }
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
      else addItem(child, thenConds);
    }
    if (alt) {
      for (const child of alt.namedChildren) {
        if (child.type === 'preproc_ifdef' || child.type === 'preproc_if') walkConditional(child, elseConds);
        else addItem(child, elseConds);
      }
    }
  };

  walk(tree.rootNode, []);
  if (!sawItem) headerEnd = source.length;

  for (const item of items) {
    while (item.end > item.start && /\s/.test(source[item.end - 1]!)) item.end--;
    item.text = source.slice(item.start, item.end);
    // Masked macro arguments still name things the item needs.
    if (item.kind === 'variable') {
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
  return { source, tree, header: source.slice(0, headerEnd), items, byName };
}

/**
 * The file header is every comment before the first item, except a comment
 * that sits right above the item (no blank line between): that one documents
 * the item.
 */
function leadingHeaderEnd(source: string, comments: SyntaxNode[], first: SyntaxNode): number {
  let attachedFrom = comments.length;
  let nextStart = first.startIndex;
  for (let i = comments.length - 1; i >= 0; i--) {
    const between = source.slice(comments[i]!.endIndex, nextStart);
    if ((between.match(/\n/g) ?? []).length >= 2) break;
    attachedFrom = i;
    nextStart = comments[i]!.startIndex;
  }
  // The SPDX line always opens every file, whatever follows it.
  if (attachedFrom === 0 && comments[0]?.text.includes('SPDX-License-Identifier')) attachedFrom = 1;
  if (attachedFrom === 0) return 0;
  const last = comments[attachedFrom - 1]!;
  const rest = source.slice(last.endIndex, attachedFrom < comments.length ? comments[attachedFrom]!.startIndex : first.startIndex);
  const blank = rest.match(/^[ \t]*\n(?:[ \t]*\n)?/);
  return last.endIndex + (blank ? blank[0].length : 0);
}

function describe(node: SyntaxNode, start: number, conds: Cond[], index: number): Item {
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
    pos: position(node),
    isStatic: hasSpecifier(node, 'static'),
    isInline: hasSpecifier(node, 'inline'),
    isConst: false,
    stateful: false,
    isArray: false,
  };
  switch (node.type) {
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
      const name = declaredName(node.childForFieldName('declarator'));
      if (name) item.defines.push(name);
      item.stateful = hasStaticLocal(node.childForFieldName('body'));
      collectUses(node, item.uses, localNames(node));
      if (name) item.uses.delete(name);
      return item;
    }
    case 'declaration':
      describeDeclaration(node, item);
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
      }
      break;
    }
    default:
      break;
  }
  collectUses(node, item.uses, new Set(item.defines));
  return item;
}

function describeDeclaration(node: SyntaxNode, item: Item): void {
  const declarators = node.childrenForFieldName('declarator');
  const isExtern = hasSpecifier(node, 'extern');
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

export function hasSpecifier(node: SyntaxNode, word: string): boolean {
  return node.children.some((c) => c.type === 'storage_class_specifier' && c.text === word);
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

function innermostKind(d: SyntaxNode): string {
  let node: SyntaxNode | null = d.type === 'init_declarator' ? d.childForFieldName('declarator') : d;
  while (node?.type === 'pointer_declarator' || node?.type === 'parenthesized_declarator') {
    node = node.childForFieldName('declarator') ?? node.namedChildren[0] ?? null;
  }
  return node?.type ?? '';
}

function hasDescendant(node: SyntaxNode, type: string): boolean {
  return node.descendantsOfType(type).length > 0;
}

function hasStaticLocal(body: SyntaxNode | null): boolean {
  if (!body) return false;
  return body.descendantsOfType('declaration').some((d) => hasSpecifier(d, 'static'));
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

export function identifiersInText(text: string): string[] {
  const withoutStrings = text.replace(/"(?:[^"\\\n]|\\.)*"/g, '""').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, ' ');
  return withoutStrings.match(IDENT_RE) ?? [];
}

/** Every identifier a node mentions (outside strings and comments). */
export function identifiersIn(node: SyntaxNode): Set<string> {
  const uses = new Set<string>();
  collectUses(node, uses, new Set());
  return uses;
}

function collectUses(node: SyntaxNode, uses: Set<string>, exclude: Set<string>): void {
  const visit = (n: SyntaxNode): void => {
    switch (n.type) {
      case 'identifier':
      case 'type_identifier':
        if (!exclude.has(n.text)) uses.add(n.text);
        return;
      case 'preproc_arg':
        for (const id of identifiersInText(n.text)) if (!exclude.has(id)) uses.add(id);
        return;
      case 'comment':
      case 'string_literal':
        return;
      default:
        for (const c of n.namedChildren) visit(c);
    }
  };
  visit(node);
}

import { stripStringsAndComments, identifiersInText } from './c-identifiers.js';
import { declaredName, hasDescendant, innermostKind } from './declarators.js';
import type { Cond, Item } from './item.js';
import type { SyntaxNode } from './parse.js';
import { syscallDefinitions, syscallEntryPoints, syscallFunctionName } from './syscall-define.js';

/**
 * What a top-level item is (function, variable, prototype, type, macro,
 * include, macro call) and the names it defines, read from its syntax tree
 * or, for the most common shapes, from its text.
 */
export function describe(source: string, node: SyntaxNode, type: string, start: number, pos: { line: number; col: number }, conds: Cond[], index: number): Item {
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

import { declaredName, innermostKind, lineIndex, parseC, syscallDefinitions, syscallFunctionName, type SyntaxNode, type SyscallDefinition } from '@klp-split/splitter';
import { directiveCondition, evalCondition, type KernelConfig } from './conditions.js';
import { definesVariable } from './define-macros.js';
import { maskKernelIdioms } from './kernel-mask.js';
import { identifiersUsed, normalized } from './tokens.js';

/**
 * The top-level definitions of one kernel C file or header, read with the
 * splitter's tree-sitter C model after the kernel idioms are masked. A
 * kernel file has constructs no C grammar reads (macros that define
 * functions, types as macro arguments): those parts become `error`
 * definitions with their range, so a fix that touches one is refused at its
 * line instead of being misread, and the rest of the file is still read.
 */

export type DefinitionKind = 'function' | 'variable' | 'prototype' | 'type' | 'macro' | 'include' | 'call' | 'error' | 'other';

/** One enclosing preprocessor conditional. */
export interface Conditional {
  /** The opening directive as written (`#ifdef CONFIG_X`). */
  open: string;
  /** The directive of the branch the definition is in (`#ifdef CONFIG_X`, `#elif ...`, `#else`). */
  branch: string;
  /** Whether this branch is compiled with the kernel's configuration (undefined: cannot tell). */
  taken: boolean | undefined;
}

export interface Definition {
  kind: DefinitionKind;
  /** The name it defines (a function, variable, macro, type tag or typedef), if any. */
  name?: string;
  /** Every name it defines (enum constants, several declarators). */
  names: string[];
  start: number;
  end: number;
  /** 1-based line and column of its start, and its last line. */
  line: number;
  col: number;
  endLine: number;
  text: string;
  /** Its tokens, comments and layout ignored: two versions are the same definition when these are equal. */
  key: string;
  conds: Conditional[];
  /** Compiled with the kernel's configuration: true, false, or undefined when a condition cannot be evaluated. */
  active: boolean | undefined;
  /** Words before the name: `static`, `inline`, `extern`, `const`, `__init`, `notrace`, ... */
  specifiers: Set<string>;
  /** Functions: where the body's `{` is. */
  bodyStart?: number;
  /** Functions: their head (return type, name, parameters) as written. */
  head?: string;
  /** `SYSCALL_DEFINEn(...)` functions. */
  syscall?: SyscallDefinition;
  /** Variables defined by a macro (`static DEFINE_MUTEX(lock);`): the macro. */
  definedBy?: string;
  /** Variables: the `= ...` part exists. */
  initialized?: boolean;
  /** Top-level macro invocations (`KLP_POST_PATCH_CALLBACK(fn);`, `EXPORT_SYMBOL(x);`): the macro and its arguments. */
  call?: { name: string; args: string[] };
  /** Names the definition uses (not member names). */
  uses: Set<string>;
}

export interface KernelFile {
  path: string;
  text: string;
  defs: Definition[];
  /** 1-based line and column of an offset. */
  positionAt(offset: number): { line: number; col: number };
  /** Definitions by name, in file order. */
  byName: Map<string, Definition[]>;
}

const SPECIFIER_WORDS = new Set([
  'static', 'inline', 'extern', 'const', 'volatile', '__init', '__exit', '__initdata', '__exitdata', '__initconst', '__ref',
  'notrace', 'noinstr', '__always_inline', 'noinline', '__cold', '__weak', '__visible', '__ro_after_init', '__read_mostly',
  'asmlinkage', '__noreturn', '__kprobes', 'nokprobe_inline', '__attribute_const__', '__meminit', '__cpuinit', '__sched',
]);

/** A declaration declares a function when the declarator nearest its name is one. */
function isFunctionDeclarator(d: SyntaxNode): boolean {
  return innermostKind(d) === 'function_declarator';
}

function specifiersOf(text: string, from: number, to: number): Set<string> {
  const out = new Set<string>();
  for (const w of text.slice(from, to).match(/[A-Za-z_]\w*/g) ?? []) if (SPECIFIER_WORDS.has(w)) out.add(w);
  return out;
}

/** `DEFINE_PER_CPU(type, name)` names its second argument; the other DEFINE_* macros their first. */
function macroDefinedName(macro: string, args: string[]): string | undefined {
  const arg = /PER_CPU/.test(macro) ? args[1] : args[0];
  const name = arg?.trim();
  if (!name || !/^[A-Za-z_]\w*$/.test(name)) return undefined;
  if (/^DEVICE_ATTR/.test(macro)) return `dev_attr_${name}`;
  return name;
}

/** The arguments of the macro call at `open` (a `(`), split at top-level commas. */
export function macroArgs(text: string, open: number): string[] {
  const args: string[] = [];
  let depth = 0;
  let from = open + 1;
  for (let i = open; i < text.length; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')') {
      if (--depth === 0) {
        args.push(text.slice(from, i));
        return args.map((a) => a.trim()).filter((a, k, all) => a !== '' || all.length > 1);
      }
    } else if (c === ',' && depth === 1) {
      args.push(text.slice(from, i));
      from = i + 1;
    }
  }
  return args;
}

export function readKernelFile(path: string, text: string, config?: KernelConfig): KernelFile {
  const syscalls = syscallDefinitions(text);
  const tree = parseC(maskKernelIdioms(text));
  const positionAt = lineIndex(text);
  const defs: Definition[] = [];

  const add = (node: SyntaxNode, conds: Conditional[]): void => {
    const def = describe(node, conds);
    if (def) defs.push(def);
  };

  const base = (node: SyntaxNode, kind: DefinitionKind, conds: Conditional[]): Definition => {
    const start = node.startIndex;
    const end = node.endIndex;
    const pos = positionAt(start);
    const taken = conds.map((c) => c.taken);
    const active = taken.includes(false) ? false : taken.includes(undefined) ? undefined : true;
    return {
      kind,
      names: [],
      start,
      end,
      line: pos.line,
      col: pos.col,
      endLine: positionAt(Math.max(start, end - 1)).line,
      text: text.slice(start, end),
      key: normalized(text, start, end),
      conds,
      active,
      specifiers: new Set(),
      uses: identifiersUsed(text, start, end),
    };
  };

  const describe = (node: SyntaxNode, conds: Conditional[]): Definition | undefined => {
    switch (node.type) {
      case 'comment':
        return undefined;
      case 'ERROR':
        return base(node, 'error', conds);
      case 'preproc_include':
        return base(node, 'include', conds);
      case 'preproc_def':
      case 'preproc_function_def': {
        const d = base(node, 'macro', conds);
        d.name = node.childForFieldName('name')?.text;
        if (d.name) d.names.push(d.name);
        d.uses.delete(d.name ?? '');
        d.uses.delete('define');
        return d;
      }
      case 'function_definition': {
        const d = base(node, 'function', conds);
        const declarator = node.childForFieldName('declarator');
        const body = node.childForFieldName('body');
        d.name = declaredName(declarator);
        d.syscall = syscalls.find((s) => s.start >= node.startIndex && s.start < (body?.startIndex ?? node.endIndex));
        if (d.syscall) d.name = syscallFunctionName(d.syscall);
        if (d.name) d.names.push(d.name);
        d.bodyStart = body?.startIndex ?? node.endIndex;
        d.head = text.slice(node.startIndex, d.bodyStart).trimEnd();
        const nameAt = declarator ? declarator.startIndex : d.bodyStart;
        // `static int __init foo(void)`: the words before the name (not the parameters' `const`).
        d.specifiers = specifiersOf(text, node.startIndex, nameAt);
        return d;
      }
      case 'declaration':
        return describeDeclaration(node, conds);
      case 'type_definition': {
        const d = base(node, 'type', conds);
        for (const decl of node.childrenForFieldName('declarator')) {
          const n = declaredName(decl);
          if (n) d.names.push(n);
        }
        typeBodyNames(node.childForFieldName('type'), d);
        d.name = d.names[0];
        return d;
      }
      case 'struct_specifier':
      case 'union_specifier':
      case 'enum_specifier': {
        const d = base(node, 'type', conds);
        typeBodyNames(node, d);
        d.name = d.names[0];
        return d;
      }
      case 'expression_statement': {
        const call = node.namedChildren[0];
        const d = base(node, call?.type === 'call_expression' ? 'call' : 'other', conds);
        if (call?.type === 'call_expression') {
          const fn = call.childForFieldName('function')?.text ?? '';
          const argsNode = call.childForFieldName('arguments');
          d.call = { name: fn, args: argsNode ? macroArgs(text, argsNode.startIndex) : [] };
          // `DECLARE_RWSEM(uts_sem);` at file scope defines a variable (DECLARE_PER_CPU only declares one).
          if (definesVariable(fn) || /^DECLARE_(?:PER_CPU|STATIC_KEY)/.test(fn)) {
            const name = macroDefinedName(fn, d.call.args);
            d.kind = /^DECLARE_(?:PER_CPU|STATIC_KEY)/.test(fn) ? 'prototype' : 'variable';
            d.definedBy = fn;
            d.call = undefined;
            if (name) d.names.push(name);
            d.name = name;
          }
        }
        return d;
      }
      case ';':
        return undefined;
      default:
        return base(node, 'other', conds);
    }
  };

  const describeDeclaration = (node: SyntaxNode, conds: Conditional[]): Definition => {
    const d = base(node, 'variable', conds);
    const declarators = node.childrenForFieldName('declarator');
    const typeNode = node.childForFieldName('type');
    const firstDecl = declarators[0];
    d.specifiers = specifiersOf(text, node.startIndex, firstDecl ? firstDecl.startIndex : node.endIndex);
    const typeText = typeNode?.text ?? '';
    // `static DEFINE_MUTEX(lock);` reads as a variable `lock` of type DEFINE_MUTEX.
    if (typeNode?.type === 'type_identifier' && /^[A-Z][A-Z0-9_]*$/.test(typeText) && declarators.length === 1 && firstDecl?.type === 'parenthesized_declarator') {
      const open = text.indexOf('(', typeNode.endIndex);
      const name = macroDefinedName(typeText, macroArgs(text, open));
      d.definedBy = typeText;
      if (name) d.names.push(name);
      d.name = name;
      return d;
    }
    const fn = declarators.some((x) => isFunctionDeclarator(x));
    if (fn || d.specifiers.has('extern')) d.kind = 'prototype';
    else if (!declarators.length) d.kind = 'type';
    for (const decl of declarators) {
      const n = declaredName(decl);
      if (n) d.names.push(n);
      if (decl.type === 'init_declarator') d.initialized = true;
    }
    typeBodyNames(typeNode, d);
    d.name = d.kind === 'type' ? d.names[0] : declarators.map((x) => declaredName(x)).find(Boolean);
    return d;
  };

  const walk = (node: SyntaxNode, conds: Conditional[]): void => {
    for (const child of node.namedChildren) {
      if (child.type === 'preproc_ifdef' || child.type === 'preproc_if') walkConditional(child, conds);
      else add(child, conds);
    }
  };

  const walkConditional = (node: SyntaxNode, conds: Conditional[]): void => {
    const open = text.slice(node.startIndex, text.indexOf('\n', node.startIndex) >= 0 ? text.indexOf('\n', node.startIndex) : node.endIndex).trimEnd();
    // The branches in order: the `#if` itself, then each `#elif`, then `#else`.
    let branchNode: SyntaxNode | null = node;
    let branchLine = open;
    const earlier: (boolean | undefined)[] = [];
    while (branchNode) {
      const expr = branchLine.startsWith('#else') || /^#\s*else/.test(branchLine) ? undefined : directiveCondition(branchLine);
      const own = expr === undefined ? true : config ? evalCondition(expr, config) : undefined;
      const before = earlier.includes(true) ? false : earlier.includes(undefined) ? undefined : true;
      const taken = before === false ? false : own === false ? false : before === undefined || own === undefined ? undefined : true;
      const branchConds = [...conds, { open, branch: branchLine, taken }];
      const alt: SyntaxNode | null = branchNode.childForFieldName('alternative');
      for (const child of branchNode.namedChildren) {
        if (alt && child.startIndex === alt.startIndex) continue;
        if (child.startIndex === branchNode.childForFieldName('name')?.startIndex || child.startIndex === branchNode.childForFieldName('condition')?.startIndex) continue;
        if (child.type === 'preproc_ifdef' || child.type === 'preproc_if') walkConditional(child, branchConds);
        else add(child, branchConds);
      }
      earlier.push(own);
      branchNode = alt;
      if (alt) {
        const nl = text.indexOf('\n', alt.startIndex);
        branchLine = text.slice(alt.startIndex, nl >= 0 ? nl : alt.endIndex).trimEnd();
      }
    }
  };

  walk(tree.rootNode, []);
  const byName = new Map<string, Definition[]>();
  for (const d of defs) {
    for (const n of d.names) {
      const list = byName.get(n) ?? [];
      list.push(d);
      byName.set(n, list);
    }
  }
  return { path, text, defs, positionAt, byName };
}

function typeBodyNames(type: SyntaxNode | null | undefined, d: Definition): void {
  if (!type) return;
  if (!['struct_specifier', 'union_specifier', 'enum_specifier'].includes(type.type) || !type.childForFieldName('body')) return;
  const tag = type.childForFieldName('name');
  if (tag) d.names.push(tag.text);
  if (type.type === 'enum_specifier') {
    for (const e of type.childForFieldName('body')!.namedChildren) {
      const n = e.childForFieldName('name');
      if (e.type === 'enumerator' && n) d.names.push(n.text);
    }
  }
}

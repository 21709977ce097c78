import { decodeCString } from './c-strings.js';
import { conditionAt, evaluatedFuncArray, evaluatedObjectNames, type Preprocessor } from './compiler-names.js';
import { isCallbackKind } from '@klp-split/core';
import type { CallbackKind, DiagnosticSink } from '@klp-split/core';
import { initElements, isTerminator, type InitElement } from './initializer.js';
import { blankStringsAndComments, identifiersIn } from './c-identifiers.js';
import type { Item, SourceUnit } from './items.js';
import { readSimpleFuncArray } from './klp-func-text.js';
import { parseC, position, type SyntaxNode } from './parse.js';

/** The livepatch structures of one source, as the kernel would read them. */
interface KlpFuncEntry {
  oldName: string;
  newFunc: string;
  sympos: number;
  pos: { line: number; col: number };
  /** The `#if` expression the entry is under in its array (kept there in the split). */
  condition?: string;
  /** The name was computed by the compiler's preprocessor (macros), not read from the source. */
  evaluated?: boolean;
}

interface KlpCallback {
  kind: CallbackKind;
  func: string;
}

export interface KlpObjectEntry {
  /** `null` is vmlinux. */
  name: string | null;
  pos: { line: number; col: number };
  /** The initializer's fields other than `name`, in their original order. */
  fields: InitElement[];
  /** The `name` field, for its comments. */
  nameField?: InitElement;
  funcArrays: Item[];
  funcs: KlpFuncEntry[];
  callbacks: KlpCallback[];
  /** Identifiers the object's fields refer to: its roots in the dependency graph. */
  roots: Set<string>;
  /** The `#if` expression the entry is under in the klp_object array (kept wherever the object goes). */
  condition?: string;
  /** Under a condition this kernel's configuration leaves out: the object is not in this build. */
  compiledOut?: boolean;
}

export interface LivepatchModel {
  patchItem: Item;
  objsItem: Item;
  objects: KlpObjectEntry[];
  /** Patch fields kept in the split form (`states`, `replace`, ...). */
  patchFields: InitElement[];
  states?: string;
  replace?: string;
  initItem?: Item;
  exitItem?: Item;
}

type ModelResult =
  | { kind: 'livepatch'; model: LivepatchModel }
  | { kind: 'not-livepatch' }
  | { kind: 'already-split' }
  | { kind: 'invalid' };

const KLP_PATCH_FIELDS = ['mod', 'objs', 'states', 'replace'];
const KLP_OBJECT_FIELDS = ['name', 'funcs', 'callbacks'];
/** Every member of 6.1's struct klp_object, the kernel's own included: what a designator may name. */
const KLP_OBJECT_MEMBERS = new Set([...KLP_OBJECT_FIELDS, 'kobj', 'func_list', 'node', 'mod', 'dynamic', 'patched']);
const KLP_FUNC_FIELDS = ['old_name', 'new_func', 'old_sympos'];
const KLP_CALLBACK_FIELDS = ['pre_patch', 'post_patch', 'pre_unpatch', 'post_unpatch', 'post_unpatch_enabled'];

export function findLivepatch(unit: SourceUnit, sink: DiagnosticSink, preprocess?: Preprocessor): ModelResult {
  const compiler = onceOnly(preprocess);
  const patches = unit.items.filter((i) => i.kind === 'variable' && i.structTag === 'klp_patch' && initializerOf(i));
  // A comment that names klp_add_object() (explaining the split) is no call of it.
  if (/\bklp_add_object\s*\(/.test(unit.source) && /\bklp_add_object\s*\(/.test(blankStringsAndComments(unit.source))) return { kind: 'already-split' };
  if (patches.length === 0) return { kind: 'not-livepatch' };
  if (patches.length > 1) {
    sink.error(patches[1]!.pos, 'multiple-patches', `a second klp_patch '${patches[1]!.defines[0]}'; one livepatch module has one patch`);
    return { kind: 'invalid' };
  }
  const patchItem = patches[0]!;
  const patchInit = initializerOf(patchItem)!;
  const patchEls = initElements(patchInit, unit.source, KLP_PATCH_FIELDS);
  if (patchEls.some((e) => e.field === 'obj' || e.field === 'obj_names')) return { kind: 'already-split' };

  const objsEl = patchEls.find((e) => e.field === 'objs');
  if (!objsEl) {
    sink.error(patchItem.pos, 'patch-without-objects', `klp_patch '${patchItem.defines[0]}' has no .objs`);
    return { kind: 'invalid' };
  }
  const objsItem = definitionOf(unit, objsEl.value, 'klp_object', sink);
  if (!objsItem) return { kind: 'invalid' };
  // The split rewrites the patch's initializer field by field: a condition inside it would be lost.
  // The object array's conditions stay with each object (objectConditions).
  for (const item of [patchItem]) {
    const init = initializerOf(item)!;
    const m = /^[ \t]*#[ \t]*(?:if|ifdef|ifndef|elif|else|endif)\b.*$/m.exec(unit.source.slice(init.startIndex, init.endIndex));
    if (m) {
      sink.error(unit.positionAt(init.startIndex + m.index), 'conditional-in-initializer', `'${m[0].trim()}' inside struct ${item.structTag} '${item.defines[0]}': the split rewrites this initializer and cannot keep the condition; move the condition around the whole definition or into a klp_func array`);
      return { kind: 'invalid' };
    }
  }

  const objects: KlpObjectEntry[] = [];
  let index = 0;
  const objsList = initializerOf(objsItem)!;
  const elements = initElements(objsList, unit.source).filter((el) => !isTerminator(el.node));
  const conditions = elements.map((el) => conditionAt(unit.source, objsList.startIndex, el.node.startIndex));
  const kept = conditions.some((c) => c) ? keptObjects(objsItem, elements[conditions.findIndex((c) => c)]!, conditions.find((c) => c)!, sink, compiler) : undefined;
  if (conditions.some((c) => c) && !kept) return { kind: 'invalid' };
  const places = kept ? keptPlaces(unit, elements, conditions, kept) : undefined;
  for (const [i, el] of elements.entries()) {
    const entry = readObject(unit, el, sink, compiler, { array: objsItem.defines[0]!, index: places ? places[i]!.index ?? -1 : index++ }, conditions[i], places?.[i]!.compiledOut);
    if (entry) objects.push(entry);
  }
  checkDuplicates(objects, sink);

  const field = (name: string): InitElement | undefined => patchEls.find((e) => e.field === name);
  const fnItem = (call: string): Item | undefined => {
    const callItem = unit.items.find((i) => i.kind === 'call' && i.call?.name === call);
    const fn = callItem?.call?.args[0]?.text;
    return fn ? unit.byName.get(fn)?.find((i) => i.kind === 'function') : undefined;
  };
  const model: LivepatchModel = {
    patchItem,
    objsItem,
    objects,
    patchFields: patchEls.filter((e) => e.field !== 'mod' && e.field !== 'objs'),
    states: field('states')?.value.text,
    replace: field('replace')?.value.text,
    initItem: fnItem('module_init'),
    exitItem: fnItem('module_exit'),
  };
  return sink.failed ? { kind: 'invalid' } : { kind: 'livepatch', model };
}

export function initializerOf(item: Item): SyntaxNode | undefined {
  for (const d of item.node.childrenForFieldName('declarator')) {
    const value = d.type === 'init_declarator' ? d.childForFieldName('value') : null;
    if (value?.type === 'initializer_list') return value;
  }
  return undefined;
}

/** The item that defines the array an initializer field points to (`objs`, `&objs[0]`). */
function definitionOf(unit: SourceUnit, value: SyntaxNode, tag: string, sink: DiagnosticSink): Item | undefined {
  const name = [...identifiersIn(value)][0];
  const item = name ? unit.byName.get(name)?.find((i) => i.kind === 'variable' && initializerOf(i)) : undefined;
  if (!item) {
    const declared = name ? unit.byName.get(name)?.some((i) => i.kind === 'prototype') : false;
    sink.error(
      position(value),
      'livepatch-spans-files',
      declared
        ? `struct ${tag} '${name}' is only declared here; the livepatch's pieces live in several files, give the file that defines it`
        : `struct ${tag} '${value.text}' is not defined in this file; the livepatch's pieces live in several files`,
    );
    return undefined;
  }
  if (item.structTag !== tag) {
    sink.error(item.pos, 'unexpected-type', `'${name}' is a struct ${item.structTag ?? '?'}, expected struct ${tag}`);
    return undefined;
  }
  return item;
}

/**
 * The objects (by name, null for vmlinux) this kernel's configuration keeps
 * in an array with `#if` around entries: what the compiler's preprocessed
 * array holds. Undefined after an error.
 */
function keptObjects(objsItem: Item, first: InitElement, condition: string, sink: DiagnosticSink, compiler: Preprocessor): (string | null | undefined)[] | undefined {
  const text = compiler();
  const names = text === undefined ? undefined : evaluatedObjectNames(text, objsItem.defines[0]!);
  if (!names) {
    const why = `an entry is under '${condition}'`;
    sink.error(
      position(first.node),
      'needs-compiler',
      text === undefined
        ? `klp_object array '${objsItem.defines[0]}': ${why}, which only the compiler can evaluate; give the kernel tree (--kdir) so kbuild can preprocess the file`
        : `klp_object array '${objsItem.defines[0]}': ${why}, and the preprocessed file does not show the array`,
    );
  }
  return names;
}

/**
 * Where each entry of an array with `#if` around entries stands in the
 * compiler's array, matched in order: an unconditional entry is always
 * there, a conditional one when the next kept name is its own. A name built
 * by macros under a condition cannot be matched (index undefined).
 */
function keptPlaces(unit: SourceUnit, elements: InitElement[], conditions: (string | undefined)[], kept: (string | null | undefined)[]): { index?: number; compiledOut: boolean }[] {
  let next = 0;
  return elements.map((el, i) => {
    const nameEl = el.value.type === 'initializer_list' ? initElements(el.value, unit.source, KLP_OBJECT_FIELDS).find((f) => f.field === 'name') : undefined;
    const literal = !nameEl || isNullValue(nameEl.value) ? null : stringValue(unit, nameEl.value);
    if (!conditions[i]) return { index: next++, compiledOut: false };
    if (literal === undefined) return { compiledOut: false };
    return kept[next] === literal ? { index: next++, compiledOut: false } : { compiledOut: true };
  });
}

function readObject(unit: SourceUnit, el: InitElement, sink: DiagnosticSink, compiler: Preprocessor, at: { array: string; index: number }, condition?: string, compiledOut = false): KlpObjectEntry | undefined {
  if (el.value.type !== 'initializer_list') {
    sink.error(position(el.value), 'unsupported-initializer', `klp_object element '${el.value.text}' is not a braced initializer`);
    return undefined;
  }
  const fields = initElements(el.value, unit.source, KLP_OBJECT_FIELDS);
  // A designator struct klp_object does not have (`.fucns`): the compiler refuses it; read as nothing, it would split into no functions.
  const unknown = fields.find((f) => f.designated && !KLP_OBJECT_MEMBERS.has(f.field ?? ''));
  if (unknown) {
    sink.error(position(unknown.node), 'unsupported-initializer', `'.${unknown.field ?? unknown.node.text}' is not a member of struct klp_object (${KLP_OBJECT_FIELDS.join(', ')})`);
    return undefined;
  }
  const nameEl = fields.find((f) => f.field === 'name');
  if (condition && nameEl && !isNullValue(nameEl.value) && stringValue(unit, nameEl.value) === undefined) {
    // The compiler's array holds the names of the entries it keeps; which of them this one is, only its own name would say.
    sink.error(position(nameEl.value), 'unsupported-object-name', `the object name '${nameEl.value.text}' is built by macros and its entry is under '${condition}': klp-split cannot tell whether the configuration keeps it; write the name as a string literal`);
    return undefined;
  }
  // A name built by macros is looked up by its position in the preprocessed array.
  const name = nameEl ? objectName(unit, nameEl.value, sink, compiler, at) : null;
  if (name === undefined) return undefined;
  if (condition && name === null) {
    sink.error(position(el.value), 'conditional-vmlinux-object', `the vmlinux entry is under '${condition}': the main module always has its object; put the condition around its klp_func entries instead`);
    return undefined;
  }
  if (compiledOut) sink.note(position(el.value), 'object-compiled-out', `object '${name}' is under '${condition}', which this kernel's configuration leaves out: its per-object module is written under that condition but not built`);
  const entry: KlpObjectEntry = {
    name,
    pos: position(el.value),
    fields: fields.filter((f) => f.field !== 'name'),
    nameField: nameEl,
    funcArrays: [],
    funcs: [],
    callbacks: [],
    roots: new Set(),
    ...(condition ? { condition } : {}),
    ...(compiledOut ? { compiledOut } : {}),
  };
  for (const f of entry.fields) for (const id of identifiersIn(f.value)) entry.roots.add(id);
  const funcsEl = fields.find((f) => f.field === 'funcs');
  if (funcsEl && !isNullValue(funcsEl.value)) {
    const arr = definitionOf(unit, funcsEl.value, 'klp_func', sink);
    if (arr) {
      entry.funcArrays.push(arr);
      // What the configuration leaves out is in no build: the compiler's view has none of its functions.
      if (!compiledOut) entry.funcs = readFuncs(unit, arr, sink, compiler);
    }
  }
  const cbEl = fields.find((f) => f.field === 'callbacks');
  if (cbEl?.value.type === 'initializer_list') {
    for (const cb of initElements(cbEl.value, unit.source, KLP_CALLBACK_FIELDS)) {
      if (!cb.field || cb.field === 'post_unpatch_enabled' || isNullValue(cb.value)) continue;
      if (!isCallbackKind(cb.field)) {
        // struct klp_callbacks has no such member: the compiler refuses it, so nothing may be written for it.
        sink.error({ line: cb.value.startPosition.row + 1, col: cb.value.startPosition.column + 1 }, 'unsupported-initializer', `'${cb.field}' is not a member of struct klp_callbacks`);
        continue;
      }
      entry.callbacks.push({ kind: cb.field, func: cb.value.text });
    }
  }
  return entry;
}

function isNullValue(node: SyntaxNode): boolean {
  return node.text === 'NULL' || node.text === '0' || node.type === 'null';
}

/** The object's module name; null for vmlinux; undefined after reporting an error. */
function objectName(unit: SourceUnit, value: SyntaxNode, sink: DiagnosticSink, compiler: Preprocessor, at: { array: string; index: number }): string | null | undefined {
  if (isNullValue(value)) return null;
  const literal = stringValue(unit, value);
  if (literal !== undefined) return literal;
  // Built by macros: the compiler's preprocessed object array says what it is.
  const text = compiler();
  const evaluated = text === undefined ? undefined : evaluatedObjectNames(text, at.array)?.[at.index];
  if (typeof evaluated === 'string') {
    sink.note(position(value), 'name-from-compiler', `object name '${value.text}' is '${evaluated}' as the compiler computes it for this kernel`);
    return evaluated;
  }
  const hint = text === undefined ? '; give the kernel tree (--kdir) so kbuild can preprocess the file' : '';
  sink.error(position(value), 'unsupported-object-name', `cannot evaluate the object name '${value.text}' (use a string literal or a macro that expands to one)${hint}`);
  return undefined;
}

/** A string literal, concatenated literals, or a macro defined in the file as one. */
function stringValue(unit: SourceUnit, node: SyntaxNode, depth = 0): string | undefined {
  if (node.type === 'string_literal') return decodeCString(node.text);
  if (node.type === 'concatenated_string') {
    const parts = node.namedChildren.map((c) => stringValue(unit, c, depth + 1));
    return parts.every((p) => p !== undefined) ? parts.join('') : undefined;
  }
  if (node.type === 'parenthesized_expression' && node.namedChildren[0]) return stringValue(unit, node.namedChildren[0], depth + 1);
  if (node.type === 'identifier' && depth < 8) {
    const macro = unit.byName.get(node.text)?.find((i) => i.node.type === 'preproc_def');
    const body = macro?.node.childForFieldName('value')?.text.trim();
    if (body) {
      const expr = parseExpression(body);
      return expr ? stringValue(unit, expr, depth + 1) : undefined;
    }
  }
  return undefined;
}

function parseExpression(text: string): SyntaxNode | undefined {
  const tree = parseC(`void *__klp_split_expr = ${text};`);
  const init = tree.rootNode.descendantsOfType('init_declarator')[0];
  return tree.rootNode.hasError ? undefined : init?.childForFieldName('value') ?? undefined;
}

function readFuncs(unit: SourceUnit, arr: Item, sink: DiagnosticSink, compiler: Preprocessor): KlpFuncEntry[] {
  const list = initializerOf(arr)!;
  const simple = readSimpleFuncArray(unit.source, list.startIndex, list.endIndex);
  if (simple) {
    const funcs: KlpFuncEntry[] = [];
    for (const f of simple) {
      const pos = unit.positionAt(f.at);
      if (!unit.byName.get(f.newFunc)?.some((i) => i.kind === 'function')) {
        sink.error(pos, 'new-func-undefined', `klp_func '${f.oldName}': new_func '${f.newFunc}' is not defined in this file`);
        continue;
      }
      funcs.push({ oldName: f.oldName, newFunc: f.newFunc, sympos: f.sympos, pos });
    }
    return funcs;
  }
  return readFuncsFromTree(unit, arr, list, sink, compiler);
}

function readFuncsFromTree(unit: SourceUnit, arr: Item, arrayList: SyntaxNode, sink: DiagnosticSink, compiler: Preprocessor): KlpFuncEntry[] {
  const funcs: KlpFuncEntry[] = [];
  let needsCompiler = false;
  for (const el of initElements(arrayList, unit.source)) {
    if (isTerminator(el.node)) continue;
    const list = el.value.type === 'call_expression' ? expandFuncMacro(unit, el.value, sink) : el.value;
    if (!list) continue;
    if (list.type !== 'initializer_list') {
      sink.error(position(el.value), 'unsupported-initializer', `klp_func element '${el.value.text.slice(0, 40)}' is not a braced initializer or a macro that expands to one`);
      continue;
    }
    const fields = initElements(list, list.tree.rootNode.text, KLP_FUNC_FIELDS);
    const get = (f: string): SyntaxNode | undefined => fields.find((x) => x.field === f)?.value;
    const oldNameNode = get('old_name');
    const newFuncNode = get('new_func');
    const oldName = oldNameNode ? stringValue(unit, oldNameNode) : undefined;
    const pos = position(el.value);
    const condition = conditionAt(unit.source, arrayList.startIndex, el.node.startIndex);
    const newFunc = newFuncNode?.text.replace(/^&\s*/, '') ?? '';
    if (!unit.byName.get(newFunc)?.some((i) => i.kind === 'function')) {
      sink.error(pos, 'new-func-undefined', `klp_func '${oldName ?? oldNameNode?.text ?? ''}': new_func '${newFunc}' is not defined in this file`);
      continue;
    }
    const symposNode = get('old_sympos');
    const sympos = symposNode ? Number(symposNode.text.replace(/[uUlL]+$/, '')) : 0;
    if (oldName === undefined || condition) needsCompiler = true;
    funcs.push({ oldName: oldName ?? '', newFunc, sympos: Number.isFinite(sympos) ? sympos : 0, pos, condition, evaluated: oldName === undefined });
  }
  return needsCompiler ? withCompilerView(unit, arr, funcs, sink, compiler) : funcs;
}

/**
 * Names built by macros and entries under `#if` are what the compiler makes
 * of them for this kernel's configuration: the preprocessed text says which
 * entries remain and what their names are.
 */
function withCompilerView(unit: SourceUnit, arr: Item, funcs: KlpFuncEntry[], sink: DiagnosticSink, compiler: Preprocessor): KlpFuncEntry[] {
  const arrayName = arr.defines[0]!;
  const first = funcs.find((f) => f.evaluated || f.condition)!;
  const text = compiler();
  const evaluated = text === undefined ? undefined : evaluatedFuncArray(text, arrayName);
  if (!evaluated) {
    const why = first.evaluated ? `its .old_name is computed by macros` : `it is under '${first.condition}'`;
    sink.error(
      first.pos,
      'needs-compiler',
      text === undefined
        ? `klp_func array '${arrayName}': ${why}, which only the compiler can evaluate; give the kernel tree (--kdir) so kbuild can preprocess the file`
        : `klp_func array '${arrayName}': ${why}, and the preprocessed file does not show the array`,
    );
    return [];
  }
  const out: KlpFuncEntry[] = [];
  let j = 0;
  for (const f of funcs) {
    const e = evaluated[j];
    if (!e || e.newFunc !== f.newFunc) {
      if (!f.condition) {
        sink.error(f.pos, 'needs-compiler', `klp_func '${f.newFunc}' is not in the preprocessed array '${arrayName}'`);
        continue;
      }
      sink.note(f.pos, 'func-compiled-out', `klp_func '${f.newFunc}' is under '${f.condition}', which this kernel's configuration leaves out; it stays in the source under its condition`);
      continue;
    }
    j++;
    if (e.oldName === undefined) {
      sink.error(f.pos, 'needs-compiler', `the compiler's .old_name of '${f.newFunc}' is not a string literal`);
      continue;
    }
    if (f.evaluated) sink.note(f.pos, 'name-from-compiler', `.old_name of '${f.newFunc}' is '${e.oldName}' as the compiler computes it for this kernel`);
    out.push({ ...f, oldName: e.oldName, sympos: e.sympos });
  }
  return out;
}

/** Runs the preprocessor at most once per split. */
function onceOnly(preprocess: Preprocessor | undefined): Preprocessor {
  let done = false;
  let text: string | undefined;
  return () => {
    if (!done) {
      done = true;
      text = preprocess?.();
    }
    return text;
  };
}

/** A macro call that builds a klp_func entry, expanded with the file's own definition. */
function expandFuncMacro(unit: SourceUnit, call: SyntaxNode, sink: DiagnosticSink): SyntaxNode | undefined {
  const name = call.childForFieldName('function')?.text ?? '';
  const macro = unit.byName.get(name)?.find((i) => i.node.type === 'preproc_function_def');
  if (!macro) {
    sink.error(position(call), 'unsupported-initializer', `klp_func element '${name}(...)' is not a macro defined in this file`);
    return undefined;
  }
  const params = (macro.node.childForFieldName('parameters')?.namedChildren ?? []).map((p) => p.text);
  const args = (call.childForFieldName('arguments')?.namedChildren ?? []).map((a) => a.text);
  let body = macro.node.childForFieldName('value')?.text ?? '';
  params.forEach((p, i) => {
    const arg = args[i] ?? '';
    body = body.replace(new RegExp(`#\\s*${p}\\b`, 'g'), JSON.stringify(arg)).replace(new RegExp(`\\b${p}\\b`, 'g'), arg);
  });
  const tree = parseC(`static int __klp_split_funcs[] = { ${body.replace(/\\\n/g, ' ')} };`);
  const list = tree.rootNode.descendantsOfType('initializer_list')[1];
  return tree.rootNode.hasError ? undefined : list;
}

function checkDuplicates(objects: KlpObjectEntry[], sink: DiagnosticSink): void {
  const seen = new Map<string, KlpObjectEntry>();
  for (const o of objects) {
    const key = o.name ?? 'vmlinux';
    const first = seen.get(key);
    if (first) {
      // One object in two branches would be two modules of one name: the functions may differ, the object not.
      const hint = o.condition || first.condition ? `; one object is one module: put the conditions around its klp_func entries instead` : '';
      sink.error(o.pos, 'duplicate-object', `object '${key}' appears twice in the klp_object array (first at line ${first.pos.line})${hint}`);
    } else {
      seen.set(key, o);
    }
  }
}

import type { Diagnostic } from '@klp-split/core';
import { syscallEntryPoints } from '@klp-split/splitter';
import { clonesOf, symbolOfFile, type FileSymbol } from '../binary/file-symbols.js';
import type { ObjectCode } from '../binary/object-code.js';
import type { FileChanges } from '../diff/file-changes.js';
import { diagnosticAt } from '../diff/sites.js';
import type { Definition, KernelFile } from '../model/kernel-file.js';
import type { PatchedFile } from '../patch/patch-set.js';
import { CALLBACK_MACROS } from '../rules/refusals.js';

/**
 * Which functions of the running kernel the livepatch replaces, checked
 * against the object's binary:
 * - a changed function that is a symbol of its object is replaced, with
 *   its old_sympos when the name occurs more than once;
 * - one the compiler inlined everywhere (no symbol), or only has clones of
 *   (`.isra`, `.constprop`, `.part`), is replaced through its callers in
 *   the same file, up to callers that are symbols;
 * - a caller whose code does not call the changed function's symbol
 *   (it inlined it, or calls a clone) is replaced too;
 * - a symbol nothing calls or points to is not patched (the kernel never
 *   runs it), and one without a `call __fentry__` is refused.
 */

export type CallbackKind = 'pre_patch' | 'post_patch' | 'pre_unpatch' | 'post_unpatch';

export interface KlpFuncEntry {
  oldName: string;
  sympos: number;
}

export interface PatchedFunction {
  /** The function's name in the source (`sys_newuname` for SYSCALL_DEFINE1(newuname, ...)). */
  name: string;
  def: Definition;
  entries: KlpFuncEntry[];
  /** Why it is replaced: 'changed by the fix', "inlines 'foo'", ... */
  reason: string;
}

export interface FilePlan {
  file: PatchedFile;
  before: KernelFile;
  after: KernelFile;
  object: string;
  code: ObjectCode;
  /** Names the file defines (its binary's neighbours), for finding its symbols. */
  fileNames: Set<string>;
  patched: PatchedFunction[];
  /** Functions the livepatch carries under their own name: new ones, and changed ones the kernel has no symbol of. */
  helpers: Set<string>;
  callbacks: { kind: CallbackKind; fn: string; def: Definition }[];
  diagnostics: Diagnostic[];
}

const MAX_PATCHED = 40;

/** Names a file defines, including static locals (`stfu` of `stfu.0`), as its symbols would carry them. */
export function namesOfFile(file: KernelFile): Set<string> {
  const out = new Set<string>();
  for (const d of file.defs) {
    if (d.kind === 'function' || d.kind === 'variable') for (const n of d.names) out.add(n);
    if (d.kind === 'function' && d.bodyStart !== undefined) {
      for (const m of file.text.slice(d.bodyStart, d.end).matchAll(/\bstatic\b[^;=(){}]*?\b([A-Za-z_]\w*)\s*(?:=|;|\[)/g)) out.add(m[1]!);
    }
  }
  return out;
}

function activeFunction(file: KernelFile, name: string): Definition | undefined {
  const defs = (file.byName.get(name) ?? []).filter((d) => d.kind === 'function');
  return defs.find((d) => d.active === true) ?? defs.find((d) => d.active !== false);
}

/** Functions of the file whose text names `name` (callers, or users of its address). */
function sourceCallers(file: KernelFile, name: string): Definition[] {
  return file.defs.filter((d) => d.kind === 'function' && d.name !== name && d.active !== false && d.uses.has(name));
}

/** Macros the fix changed, and every macro of the file defined through one of them. */
function changedMacros(changes: FileChanges, after: KernelFile): Set<string> {
  const out = new Set(changes.changes.filter((c) => c.what === 'macro' && c.kind === 'changed' && c.name).map((c) => c.name!));
  let grew = true;
  while (grew) {
    grew = false;
    for (const d of after.defs) {
      if (d.kind !== 'macro' || !d.name || out.has(d.name)) continue;
      if ([...d.uses].some((u) => out.has(u))) {
        out.add(d.name);
        grew = true;
      }
    }
  }
  return out;
}

/** The x86-64 entry points a SYSCALL_DEFINEn defines: livepatch replaces these stubs. */
function syscallStubs(def: Definition): string[] {
  return syscallEntryPoints(def.syscall!);
}

export function planFile(file: PatchedFile, changes: FileChanges, object: string, code: ObjectCode): FilePlan {
  const before = changes.before!;
  const after = changes.after!;
  const plan: FilePlan = { file, before, after, object, code, fileNames: namesOfFile(before), patched: [], helpers: new Set(), callbacks: [], diagnostics: [] };
  const note = (def: Definition | undefined, code: string, message: string): void => void plan.diagnostics.push(diagnosticAt(file, def, 'note', code, message));
  const error = (def: Definition | undefined, code: string, message: string): void => void plan.diagnostics.push(diagnosticAt(file, def, 'error', code, message));
  const warn = (def: Definition | undefined, code: string, message: string): void => void plan.diagnostics.push(diagnosticAt(file, def, 'warning', code, message));

  // Callbacks: the livepatch helpers' registrations in the fixed file.
  for (const d of after.defs) {
    const m = d.kind === 'call' && d.call ? CALLBACK_MACROS.exec(d.call.name) : null;
    if (m && d.call!.args[0]) plan.callbacks.push({ kind: `${m[1]!.toLowerCase()}_${m[2]!.toLowerCase()}` as CallbackKind, fn: d.call!.args[0], def: d });
  }

  const queue: { name: string; reason: string }[] = [];
  for (const c of changes.changes) {
    if (c.what !== 'function' || !c.name) continue;
    if (c.kind === 'added') plan.helpers.add(c.name);
    if (c.kind === 'changed' && c.after!.active !== false) queue.push({ name: c.name, reason: 'changed by the fix' });
    if (c.kind === 'removed') note(c.before, 'create-function-removed', `the fix removes '${c.name}': the running kernel keeps it, and the livepatch's functions no longer call it`);
  }
  const macros = changedMacros(changes, after);
  if (macros.size) {
    for (const d of after.defs) {
      if (d.kind !== 'function' || !d.name || d.active === false) continue;
      const used = [...macros].find((m) => d.uses.has(m));
      if (used && !queue.some((q) => q.name === d.name)) queue.push({ name: d.name, reason: `uses the changed macro '${used}'` });
    }
  }

  const done = new Set<string>();
  const lookup = (name: string): FileSymbol => symbolOfFile(code, name, 'text', plan.fileNames);
  while (queue.length) {
    const { name, reason } = queue.shift()!;
    if (done.has(name)) continue;
    done.add(name);
    const def = activeFunction(after, name);
    if (!def) continue;
    if (done.size > MAX_PATCHED) {
      error(def, 'create-too-many-functions', `the fix reaches more than ${MAX_PATCHED} functions through inlining and clones; split the fix, or write the livepatch by hand`);
      break;
    }
    if (before.byName.has(name) === false && !def.syscall) {
      plan.helpers.add(name);
      continue;
    }
    const callers = (): Definition[] => sourceCallers(after, name);
    const enqueueCallers = (why: (c: Definition) => string): void => {
      for (const c of callers()) {
        if (['__init', '__exit'].some((w) => c.specifiers.has(w))) continue;
        queue.push({ name: c.name!, reason: why(c) });
      }
    };

    if (def.syscall) {
      const entries: KlpFuncEntry[] = [];
      for (const stub of syscallStubs(def)) {
        const s = lookup(stub);
        if (!s.found) continue;
        if (!code.traceable(s.symbol)) error(def, 'create-not-traceable', `'${stub}' in ${object} does not start with a call to __fentry__: ftrace cannot redirect it`);
        entries.push({ oldName: stub, sympos: s.sympos });
      }
      if (!entries.length) error(def, 'create-symbol-missing', `syscall ${def.syscall.name}: neither ${syscallStubs(def).join(' nor ')} is a symbol of ${object} (${code.source})`);
      else plan.patched.push({ name, def, entries, reason });
      continue;
    }

    const sym = lookup(name);
    const clones = clonesOf(code, name, plan.fileNames);
    if (!sym.found && sym.why === 'ambiguous') {
      error(def, 'create-sympos-ambiguous', `'${name}' occurs ${code.occurrences(name).length} times in ${object} and klp-split cannot tell which is ${file.path}'s (none has more of its neighbours): positions ${sym.candidates.map((c) => c.index).join(', ')}`);
      continue;
    }
    if (sym.found) {
      const s = sym.symbol;
      // Callers that do not call the symbol: they inlined it, or call a clone.
      for (const c of callers()) {
        if (['__init', '__exit'].some((w) => c.specifiers.has(w))) continue;
        const cs = lookup(c.name!);
        if (!cs.found) {
          queue.push({ name: c.name!, reason: `calls '${name}' and has no symbol of its own` });
          continue;
        }
        const refs = code.references(cs.symbol);
        const clone = clones.find((k) => refs.has(k));
        if (clone) queue.push({ name: c.name!, reason: `calls ${clone.name}, the compiler's clone of '${name}'` });
        else if (!refs.has(s)) queue.push({ name: c.name!, reason: `inlines '${name}'` });
      }
      // Cheapest first: a global is called from other files; then the callers' code; then data holding its address.
      const called =
        s.global ||
        callers().some((c) => {
          const cs = lookup(c.name!);
          return cs.found && code.references(cs.symbol).has(s);
        }) ||
        code.addressInData(s);
      if (!called) {
        note(def, 'create-symbol-unused', `'${name}' is a symbol of ${object}, but nothing in it calls it or holds its address: it is not patched (the kernel never runs it)`);
        plan.helpers.add(name);
        continue;
      }
      if (!code.traceable(s)) {
        error(def, 'create-not-traceable', `'${name}' in ${object} does not start with a call to __fentry__ (notrace, or built without ftrace): livepatch cannot replace it`);
        continue;
      }
      if (clones.length) note(def, 'create-clones', `'${name}' also has the compiler's clone${clones.length > 1 ? 's' : ''} ${clones.map((c) => c.name).join(', ')}: callers that call ${clones.length > 1 ? 'them' : 'it'} are patched too`);
      plan.patched.push({ name, def, entries: [{ oldName: name, sympos: sym.sympos }], reason });
      if (sym.sympos > 0) note(def, 'create-sympos', `'${name}' occurs ${sym.count} times in ${object}; ${file.path}'s is position ${sym.sympos}`);
      continue;
    }
    // No symbol: inlined everywhere, or only clones of it exist.
    plan.helpers.add(name);
    const list = callers().filter((c) => !['__init', '__exit'].some((w) => c.specifiers.has(w)));
    if (clones.length) {
      note(def, 'create-clone-callers', `'${name}' is not a symbol of ${object}, only its clone${clones.length > 1 ? 's' : ''} ${clones.map((c) => c.name).join(', ')}: patched through ${list.length ? `its callers ${list.map((c) => `'${c.name}'`).join(', ')}` : 'no caller'}`);
      enqueueCallers(() => `calls ${clones[0]!.name}, the compiler's clone of '${name}'`);
    } else if (list.length) {
      note(def, 'create-inlined', `'${name}' is not a symbol of ${object} (the compiler inlined it everywhere): patched through its callers ${list.map((c) => `'${c.name}'`).join(', ')}`);
      enqueueCallers(() => `inlines '${name}'`);
    } else if (def.specifiers.has('static')) {
      warn(def, 'create-never-called', `'${name}' is neither a symbol of ${object} nor called in ${file.path}: nothing to patch`);
    } else {
      error(def, 'create-symbol-missing', `'${name}' is not a symbol of ${object} (${code.source}): is ${file.path} built with this configuration?`);
    }
  }
  return plan;
}


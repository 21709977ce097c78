import type { Diagnostic } from '@klp-split/core';
import { staticLocalCandidates, symbolOfFile } from '../binary/file-symbols.js';
import { diagnosticAt } from '../diff/sites.js';
import type { Definition } from '../model/kernel-file.js';
import type { FilePlan } from './patch-plan.js';

/**
 * What the livepatch needs from the fixed file besides the functions it
 * replaces, decided name by name from what those functions use:
 * - types, macros, static inline helpers and prototypes are copied;
 * - functions and variables the kernel has as symbols are referenced,
 *   never copied (a copied static would be a second state silently
 *   diverging from the kernel's), through KLP_RELOC_SYMBOL_POS with the
 *   position the binary gives; exported ones need nothing;
 * - a static local of a replaced function refers to the original's
 *   `name.N` symbol;
 * - functions and variables the fix adds, and functions the kernel has no
 *   symbol of, live in the livepatch.
 */

export interface Reference {
  name: string;
  def: Definition;
  /** The symbol's name in the object (`stfu.0` for a static local). */
  symbol: string;
  sympos: number;
  kind: 'function' | 'variable';
}

export interface StaticLocal {
  /** The function it belongs to. */
  fn: string;
  name: string;
  symbol: string;
  sympos: number;
  /** Offsets of its declaration `static ...;` in the file text. */
  start: number;
  end: number;
}

export interface FileClosure {
  /** Definitions copied into the livepatch as they are (after the fix). */
  copied: Set<Definition>;
  references: Reference[];
  staticLocals: StaticLocal[];
  diagnostics: Diagnostic[];
}

/** Macros whose expansion keeps state of its own: the livepatch's copy starts fresh. */
const STATEFUL_MACROS = /^(?:pr_\w+_once|printk_once|printk_deferred_once|WARN_ONCE|WARN_ON_ONCE|dev_\w+_once|pr_\w+_ratelimited|printk_ratelimited|dev_\w+_ratelimited|DEFINE_RATELIMIT_STATE|net_\w+_ratelimited|pr_debug_ratelimited)$/;

/** `static T name [= init];` declarations in a function body: each with its name. */
export function staticLocalsOf(text: string, def: Definition): { name: string; start: number; end: number; multiple: boolean }[] {
  const out: { name: string; start: number; end: number; multiple: boolean }[] = [];
  const body = text.slice(def.bodyStart!, def.end);
  for (const m of body.matchAll(/(^|[;{}]\s*)(static\s+[^;(){}]*?([A-Za-z_]\w*)\s*(?:\[[^\]]*\]\s*)*(?:=[^;]*)?;)/g)) {
    const declStart = def.bodyStart! + m.index! + m[1]!.length;
    const decl = m[2]!;
    const multiple = /,/.test(decl.replace(/=.*$/s, ''));
    out.push({ name: m[3]!, start: declStart, end: declStart + decl.length, multiple });
  }
  return out;
}

export function closeOver(plan: FilePlan, exported: (name: string) => boolean): FileClosure {
  const { after, code, object, file } = plan;
  const closure: FileClosure = { copied: new Set(), references: [], staticLocals: [], diagnostics: [] };
  const diag = (def: Definition, severity: Diagnostic['severity'], c: string, message: string): void => void closure.diagnostics.push(diagnosticAt(file, def, severity, c, message));
  const patchedNames = new Set(plan.patched.map((p) => p.name));
  const emitted = new Set<string>([...patchedNames, ...plan.helpers]);
  const seen = new Set<string>();
  const referenced = new Set<string>();
  const work: Definition[] = [];
  for (const p of plan.patched) work.push(p.def);
  for (const h of plan.helpers) {
    const d = (after.byName.get(h) ?? []).find((x) => x.kind === 'function' && x.active !== false);
    if (d) work.push(d);
  }
  for (const c of plan.callbacks) {
    const d = (after.byName.get(c.fn) ?? []).find((x) => x.kind === 'function');
    if (d) {
      plan.helpers.add(c.fn);
      emitted.add(c.fn);
      work.push(d);
    }
  }
  const before = plan.before;

  const visit = (user: Definition): void => {
    for (const name of user.uses) {
      if (name === user.name || seen.has(name)) continue;
      const defs = (after.byName.get(name) ?? []).filter((d) => d.active !== false && d !== user);
      if (!defs.length) {
        if (user.kind === 'function' && STATEFUL_MACROS.test(name)) {
          diag(user, 'warning', 'create-macro-state', `'${user.name}' uses ${name}(), whose hidden static state starts fresh in the livepatch (a message printed once may print again)`);
        }
        continue;
      }
      seen.add(name);
      for (const d of defs) resolve(name, d, user);
    }
  };

  const copy = (d: Definition): void => {
    if (closure.copied.has(d)) return;
    closure.copied.add(d);
    work.push(d);
  };

  const ambiguous = new Set<string>();
  /** The kernel's own symbol of a name the file defines, referenced through its position; false when the object has none. */
  const reference = (name: string, d: Definition, user: Definition, kind: Reference['kind']): boolean => {
    const s = symbolOfFile(code, name, kind === 'function' ? 'text' : 'data', plan.fileNames);
    if (s.found) {
      if (!referenced.has(name)) closure.references.push({ name, def: d, symbol: name, sympos: s.sympos, kind });
      referenced.add(name);
      return true;
    }
    if (s.why === 'ambiguous') {
      ambiguous.add(name);
      diag(user, 'error', 'create-sympos-ambiguous', `'${name}' (used by '${user.name}') occurs ${code.occurrences(name).length} times in ${object} and klp-split cannot tell which is ${file.path}'s`);
    }
    return false;
  };

  const resolve = (name: string, d: Definition, user: Definition): void => {
    if (emitted.has(name) && d.kind === 'function') return;
    switch (d.kind) {
      case 'macro':
      case 'type':
        return copy(d);
      case 'prototype':
        // A forward declaration of the file's own function or variable: that definition decides.
        if ((after.byName.get(name) ?? []).some((x) => x.kind === 'function' || x.kind === 'variable')) return;
        return copy(d);
      case 'function': {
        // Static inline helpers are code without state: copied.
        if (d.specifiers.has('inline') || d.specifiers.has('__always_inline')) return copy(d);
        if (exported(name) || reference(name, d, user, 'function')) return;
        if (ambiguous.has(name)) return;
        // No symbol (inlined everywhere, or only clones): its code goes into the livepatch.
        if (staticLocalsOf(after.text, d).length) {
          diag(user, 'error', 'create-stateful-copy', `'${user.name}' calls '${name}', which ${object} has no symbol of (inlined or cloned), and '${name}' has static locals a copy would not share`);
          return;
        }
        plan.helpers.add(name);
        emitted.add(name);
        work.push(d);
        return;
      }
      case 'variable': {
        const isNew = !before.byName.get(name)?.some((b) => b.kind === 'variable');
        if (isNew) return copy(d);
        if (exported(name) || reference(name, d, user, 'variable')) return;
        if (ambiguous.has(name)) return;
        // A constant the compiler folded away has no identity to keep: a copy is the same value.
        if (d.specifiers.has('const') && !d.definedBy) return copy(d);
        diag(user, 'error', 'create-variable-missing', `'${user.name}' uses '${name}', which is not a symbol of ${object} (${code.source}): optimized away? write this livepatch by hand`);
        return;
      }
      default:
        return;
    }
  };

  while (work.length) visit(work.shift()!);

  // Static locals of the functions the livepatch replaces: the kernel's `name.N`.
  for (const p of plan.patched) {
    if (p.def.bodyStart === undefined) continue;
    const isNewFn = !before.byName.has(p.name) && !p.def.syscall;
    if (isNewFn) continue;
    for (const local of staticLocalsOf(after.text, p.def)) {
      const oldFn = (before.byName.get(p.name) ?? []).find((d) => d.kind === 'function');
      const existed = oldFn && staticLocalsOf(before.text, oldFn).some((l) => l.name === local.name);
      if (!existed) continue;
      if (local.multiple) {
        diag(p.def, 'error', 'create-static-local', `'${p.name}' declares several static locals in one declaration; split it so each can refer to the kernel's own`);
        continue;
      }
      const candidates = staticLocalCandidates(code, local.name, plan.fileNames);
      if (candidates.length !== 1) {
        diag(p.def, 'error', 'create-static-local', `the static local '${local.name}' of '${p.name}' must stay the kernel's, but ${object} has ${candidates.length ? `${candidates.length} candidates (${candidates.map((c) => c.name).join(', ')})` : `no ${local.name}.N symbol`}`);
        continue;
      }
      const sym = candidates[0]!;
      const all = code.occurrences(sym.name);
      closure.staticLocals.push({ fn: p.name, name: local.name, symbol: sym.name, sympos: all.length === 1 ? 0 : all.indexOf(sym) + 1, start: local.start, end: local.end });
    }
  }
  return closure;
}

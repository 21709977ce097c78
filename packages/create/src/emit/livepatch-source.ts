import { macroArgs, type Definition } from '../model/kernel-file.js';
import type { FileClosure } from '../plan/closure.js';
import type { CallbackKind, FilePlan } from '../plan/patch-plan.js';
import { identifiersUsed } from '../model/tokens.js';
import { externDeclaration, renamedHead, renameIdentifiers } from './c-text.js';
import { chooseIncludes, type HeaderIndex } from './include-choice.js';

/**
 * The livepatch a kernel developer would have written for the fix: one
 * `<patch>.c` with the fixed file's #includes, what the replaced functions
 * need from it (copied, or declared as the kernel's own symbols), the
 * replacement functions (each with a comment naming the fix's file and
 * line), and the klp_func/klp_object/klp_patch tables.
 */

export interface FileSection {
  plan: FilePlan;
  closure: FileClosure;
}

export interface EmitInput {
  /** The module name (`livepatch_cmdline`). */
  name: string;
  /** The patch files, as the header comment names them. */
  patches: string[];
  sections: FileSection[];
  /** The kernel's headers, to leave out the #includes only the kernel itself can compile (all are kept without it). */
  headers?: HeaderIndex;
  /** Hears about each #include left out, with the name that made it kernel-only. */
  onDroppedInclude?: (section: FileSection, include: Definition, hidden: string) => void;
}

/** The prefix of a replacement function's name. */
export const NEW_FUNC_PREFIX = 'livepatch_';

function includeKey(d: Definition): string {
  return d.text.replace(/\s+/g, ' ').trim();
}

/** The #if lines around a definition whose conditions cannot be evaluated (those that can are decided). */
function wrapUnknown(d: Definition, text: string): string {
  const unknown = d.conds.filter((c) => c.taken === undefined);
  if (!unknown.length) return text;
  let out = text;
  for (const c of [...unknown].reverse()) {
    const branch = c.branch === c.open ? '' : `${c.branch}\n`;
    out = `${c.open}\n${branch}${out}\n#endif`;
  }
  return out;
}

/** kbuild's KBUILD_MODNAME of the object, which the livepatch's own would replace in pr_fmt and friends. */
function modnameOf(plan: FilePlan): string {
  if (plan.object !== 'vmlinux') return plan.object;
  return plan.file.path.split('/').pop()!.replace(/\.c$/, '').replace(/-/g, '_');
}

function functionComment(plan: FilePlan, def: Definition, reason: string): string {
  return `/* ${plan.file.path}:${def.line}, ${reason} */`;
}

/** One file's part of the livepatch: its definitions in file order. */
function sectionText(section: FileSection, renames: Map<string, string>): { includes: Definition[]; preamble: string[]; body: string[] } {
  const { plan, closure } = section;
  const { after } = plan;
  const obj = plan.object;
  const refs = new Map(closure.references.map((r) => [r.def, r]));
  const patched = new Map(plan.patched.map((p) => [p.def, p]));
  const includes: Definition[] = [];
  const preamble: string[] = [];
  const body: string[] = [];
  let sawInclude = false;
  for (const d of after.defs) {
    if (d.active === false) continue;
    if (d.kind === 'include') {
      sawInclude = true;
      includes.push(d);
      continue;
    }
    let text: string | undefined;
    if (closure.copied.has(d)) {
      text = renameIdentifiers(d.text.trimEnd(), renames);
      if (d.kind === 'macro') text = text.replace(/\bKBUILD_MODNAME\b/g, `"${modnameOf(plan)}"`);
      // A macro defined before the #includes (pr_fmt) must stay before them.
      if (!sawInclude && d.kind === 'macro') {
        preamble.push(wrapUnknown(d, text));
        continue;
      }
    } else if (refs.has(d)) {
      const r = refs.get(d)!;
      const open = d.definedBy ? d.text.indexOf('(') : -1;
      const decl = externDeclaration(d, r.name, open >= 0 ? macroArgs(d.text, open) : []);
      text = `${decl}\n\tKLP_RELOC_SYMBOL_POS(${obj}, ${obj}, ${r.symbol}, ${r.sympos});`;
    } else if (patched.has(d)) {
      const p = patched.get(d)!;
      text = `${functionComment(plan, d, p.reason)}\n${replacementFunction(section, d)}`;
    } else if (d.kind === 'function' && d.name && plan.helpers.has(d.name)) {
      const isNew = !plan.before.byName.has(d.name);
      const why = plan.callbacks.some((c) => c.fn === d.name) ? 'a callback of the fix' : isNew ? 'new in the fix' : 'the kernel has no symbol of it';
      text = `${functionComment(plan, d, why)}\n${renameIdentifiers(d.text.trimEnd(), renames)}`;
    }
    if (text !== undefined) body.push(wrapUnknown(d, text));
  }
  return { includes, preamble, body };
}

/** A replaced function under its new name, static, with its static locals referring to the kernel's. */
function replacementFunction(section: FileSection, d: Definition): string {
  const { plan, closure } = section;
  const obj = plan.object;
  const renames = new Map(section.plan.patched.map((p) => [p.name, `${NEW_FUNC_PREFIX}${p.name}`]));
  const text = plan.after.text;
  // Static locals first, by offsets into the original text.
  let bodyText = '';
  let at = d.bodyStart!;
  for (const l of closure.staticLocals.filter((s) => s.fn === d.name).sort((a, b) => a.start - b.start)) {
    const decl = text.slice(l.start, l.end).replace(/=[^;]*;$/, ';').replace(/^static\s+/, 'extern ').replace(/;$/, '');
    bodyText += text.slice(at, l.start) + `${decl} KLP_RELOC_SYMBOL_POS(${obj}, ${obj}, ${l.symbol}, ${l.sympos});`;
    at = l.end;
  }
  bodyText += text.slice(at, d.end);
  const body = renameIdentifiers(bodyText, renames);
  if (d.syscall) {
    const head = d.head!.replace(/\b(COMPAT_)?SYSCALL_DEFINE(\d)\(/, (_m, compat: string | undefined, n: string) => `KLP_${compat ?? ''}SYSCALL_DEFINE${n}(`);
    return `${head}\n${body}`;
  }
  return `${renamedHead(d, `${NEW_FUNC_PREFIX}${d.name}`)}\n${body}`;
}

const CALLBACK_ORDER: CallbackKind[] = ['pre_patch', 'post_patch', 'pre_unpatch', 'post_unpatch'];

/** The `<patch>.c` text. */
export function livepatchSource(input: EmitInput): string {
  const renames = new Map<string, string>();
  for (const s of input.sections) for (const p of s.plan.patched) if (!p.def.syscall) renames.set(p.name, `${NEW_FUNC_PREFIX}${p.name}`);
  const parts = input.sections.map((s) => ({ s, t: sectionText(s, renames) }));
  const out: string[] = ['// SPDX-License-Identifier: GPL-2.0-only', '/*'];
  out.push(` * ${input.name}: a livepatch made by klp-split create from ${input.patches.join(', ')}.`, ' *');
  for (const { s } of parts) {
    const names = s.plan.patched.map((p) => p.name).join(', ');
    out.push(` * ${s.plan.file.path} (${s.plan.object}): ${names || 'no function replaced'}`);
  }
  out.push(' */', '');
  const preamble = parts.flatMap((p) => p.t.preamble);
  if (preamble.length) out.push(...preamble, '');
  const seen = new Set<string>();
  const used = new Set<string>();
  for (const { t } of parts) for (const b of [...t.preamble, ...t.body]) for (const n of identifiersUsed(b)) used.add(n);
  for (const { s, t } of parts) {
    const kept = input.headers ? chooseIncludes(t.includes, used, input.headers, (inc, hidden) => input.onDroppedInclude?.(s, inc, hidden)) : t.includes;
    for (const inc of kept) {
      const key = includeKey(inc);
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(wrapUnknown(inc, inc.text.trim()));
    }
  }
  for (const extra of ['#include <linux/livepatch.h>', ...(input.sections.some((s) => s.plan.patched.some((p) => p.def.syscall)) ? ['#include <linux/livepatch_helpers.h>'] : [])]) {
    if (!seen.has(extra)) out.push(extra);
  }
  for (const { s, t } of parts) {
    out.push('', `/* From ${s.plan.file.path}, as the fix leaves it. */`);
    for (const b of t.body) out.push('', b);
  }

  // One klp_func array per object, then the objects, then the patch.
  const objects = new Map<string, FileSection[]>();
  const ordered = [...input.sections].sort((a, b) => (a.plan.object === 'vmlinux' ? -1 : b.plan.object === 'vmlinux' ? 1 : 0));
  for (const s of ordered) objects.set(s.plan.object, [...(objects.get(s.plan.object) ?? []), s]);
  const ident = (o: string): string => o.replace(/[^A-Za-z0-9_]/g, '_');
  for (const [obj, secs] of objects) {
    out.push('', `static struct klp_func ${ident(obj)}_funcs[] = {`);
    for (const s of secs) {
      for (const p of s.plan.patched) {
        for (const e of p.entries) {
          const newFunc = p.def.syscall ? e.oldName : `${NEW_FUNC_PREFIX}${p.name}`;
          out.push('\t{', `\t\t.old_name = "${e.oldName}",`, `\t\t.new_func = ${newFunc},`);
          if (e.sympos) out.push(`\t\t.old_sympos = ${e.sympos},`);
          out.push('\t},');
        }
      }
    }
    out.push('\t{ }', '};');
  }
  // kbuild names the module with '_' for '-'; C names must too.
  const cName = input.name.replace(/-/g, '_');
  out.push('', 'static struct klp_object objs[] = {');
  for (const [obj, secs] of objects) {
    out.push('\t{');
    if (obj !== 'vmlinux') out.push(`\t\t.name = "${obj}",`);
    out.push(`\t\t.funcs = ${ident(obj)}_funcs,`);
    const callbacks = secs.flatMap((s) => s.plan.callbacks);
    if (callbacks.length) {
      out.push('\t\t.callbacks = {');
      for (const kind of CALLBACK_ORDER) {
        const c = callbacks.find((x) => x.kind === kind);
        if (c) out.push(`\t\t\t.${kind} = ${renames.get(c.fn) ?? c.fn},`);
      }
      out.push('\t\t},');
    }
    out.push('\t},');
  }
  out.push('\t{ }', '};');
  out.push(
    '',
    'static struct klp_patch patch = {',
    '\t.mod = THIS_MODULE,',
    '\t.objs = objs,',
    '};',
    '',
    `static int ${cName}_init(void)`,
    '{',
    '\treturn klp_enable_patch(&patch);',
    '}',
    '',
    `static void ${cName}_exit(void)`,
    '{',
    '}',
    '',
    `module_init(${cName}_init);`,
    `module_exit(${cName}_exit);`,
    'MODULE_LICENSE("GPL");',
    'MODULE_INFO(livepatch, "Y");',
  );
  return `${out.join('\n')}\n`;
}

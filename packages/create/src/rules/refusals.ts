import type { Diagnostic } from '@klp-split/core';
import type { Change, FileChanges } from '../diff/file-changes.js';
import { diagnosticAt } from '../diff/sites.js';
import type { Definition } from '../model/kernel-file.js';
import type { PatchedFile } from '../patch/patch-set.js';

/**
 * What a livepatch cannot do, refused at the fix's line before anything is
 * written, as kpatch-build and upstream's klp-build refuse it. One
 * predicate per rule; the comment above each says why the rule exists.
 */

/** Top-level macro calls that register code run at boot or module load. */
const INIT_CALLS = /^(?:module_init|module_exit|(?:early|core|postcore|arch|subsys|fs|device|late|pure|rootfs)_initcall(?:_sync)?|__initcall|__exitcall|__setup|early_param|core_param|console_initcall|security_initcall)$/;
/** The livepatch helpers' callback registrations: the object's callbacks, not a refusal. */
export const CALLBACK_MACROS = /^KLP_(PRE|POST)_(UNPATCH|PATCH)_CALLBACK$/;

// Init code has run (at boot, or when the module loaded) and its memory is
// freed; the livepatch replaces functions for callers still to come, so a
// changed __init function, a new one or a new initcall never runs.
function isInitChange(c: Change): boolean {
  const d = c.after ?? c.before!;
  if (c.what === 'function' && (c.kind !== 'removed') && ['__init', '__exit', '__meminit'].some((w) => d.specifiers.has(w))) return true;
  if (c.what === 'variable' && c.kind !== 'removed' && ['__initdata', '__initconst', '__exitdata'].some((w) => d.specifiers.has(w))) return true;
  return c.what === 'call' && c.kind === 'added' && INIT_CALLS.test(d.call?.name ?? '');
}

// ftrace redirects a function through its `call __fentry__`; notrace and
// noinstr functions have none, so livepatch cannot replace them.
function isUntraceableChange(c: Change): boolean {
  return c.what === 'function' && c.kind === 'changed' && (c.after!.specifiers.has('notrace') || c.after!.specifiers.has('noinstr'));
}

// A livepatch replaces code; the kernel's data already holds the old value,
// so a changed initial value would silently not apply.
function isDataChange(c: Change): boolean {
  return c.what === 'variable' && c.kind === 'changed';
}

// Code the livepatch does not replace keeps using the old layout of a
// structure (and objects already allocated have it): a changed struct,
// union or enum cannot be patched in place.
function isLayoutChange(c: Change): boolean {
  return c.what === 'type' && c.kind === 'changed';
}

// An export is resolved when a module loads; a livepatch cannot add or
// remove one for modules already loaded.
function isExportChange(c: Change): boolean {
  return c.what === 'call' && /^EXPORT_SYMBOL/.test((c.after ?? c.before)!.call?.name ?? '');
}

// What the grammar could not read (a macro that defines functions, say) is
// never guessed at: a fix touching it is refused, not misread.
function isUnreadableChange(c: Change): boolean {
  return c.what === 'error';
}

// A function whose #if condition cannot be evaluated against the kernel's
// configuration might not be compiled at all.
function isUnknownCondition(c: Change): boolean {
  return c.what === 'function' && c.kind === 'changed' && c.after!.active === undefined;
}

// Other top-level changes (a new macro invocation, a statement) have no
// function to put them in.
function isOtherTopLevelChange(c: Change): boolean {
  if (c.what === 'other') return true;
  if (c.what !== 'call') return false;
  const name = (c.after ?? c.before)!.call?.name ?? '';
  return !CALLBACK_MACROS.test(name) && !INIT_CALLS.test(name) && !/^EXPORT_SYMBOL/.test(name) && !/^MODULE_/.test(name);
}

function nameOf(c: Change): string {
  const d = (c.after ?? c.before)!;
  return d.name ?? d.call?.name ?? d.text.split('\n')[0]!.slice(0, 40);
}

function kindWord(d: Definition): string {
  const m = /^\s*(?:typedef\s+)?(struct|union|enum)\b/.exec(d.text);
  return m ? `${m[1]} ` : d.kind === 'type' ? 'type ' : '';
}

/** The refusals of one C file's changes. */
export function changeRefusals(file: PatchedFile, changes: FileChanges): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const c of changes.changes) {
    const def = c.after ?? c.before;
    const version = c.after ? 'after' : 'before';
    const refuse = (code: string, message: string): void => void out.push(diagnosticAt(file, def, 'error', code, message, version));
    if (isInitChange(c)) {
      refuse('create-init-changed', `${c.what === 'call' ? `new ${nameOf(c)}() registration` : `${c.kind} init code '${nameOf(c)}'`}: __init and __exit code runs once, at boot or module load, and is freed; a livepatch cannot change it (move the fix into a function that runs later)`);
    } else if (isUntraceableChange(c)) {
      refuse('create-not-traceable', `'${nameOf(c)}' is ${c.after!.specifiers.has('noinstr') ? 'noinstr' : 'notrace'}: ftrace cannot redirect it, so livepatch cannot replace it (patch its callers instead)`);
    } else if (isDataChange(c)) {
      refuse('create-data-changed', `changed data: the initial value (or type) of '${nameOf(c)}' changes, but the running kernel already holds the old one and a livepatch replaces only functions (set it from a KLP_POST_PATCH_CALLBACK, or keep new state in a shadow variable)`);
    } else if (isLayoutChange(c)) {
      refuse('create-struct-changed', `changed ${kindWord(c.after!)}layout: '${nameOf(c)}' changes, but unpatched code and objects already allocated keep the old layout (keep the new field in a shadow variable: klp_shadow_get_or_alloc())`);
    } else if (isExportChange(c)) {
      refuse('create-export-changed', `${c.kind} export ${nameOf(c)}: exports are resolved when modules load; a livepatch cannot add or remove one`);
    } else if (isUnreadableChange(c)) {
      refuse('create-unreadable-change', `the fix changes code klp-split cannot read here ('${def!.text.trim().split('\n')[0]!.slice(0, 50)}'): a macro that defines functions or data? write this livepatch by hand`);
    } else if (isUnknownCondition(c)) {
      refuse('create-condition-unknown', `'${nameOf(c)}' is under ${c.after!.conds.map((x) => x.branch).join(' / ')}, which klp-split cannot evaluate against the kernel's .config`);
    } else if (isOtherTopLevelChange(c)) {
      refuse('create-unsupported-change', `${c.kind} top-level ${c.what === 'call' ? `${nameOf(c)}(...)` : `'${nameOf(c)}'`} outside any function: a livepatch carries changed functions, their callbacks and new functions and variables only`);
    }
  }
  return out;
}

// Assembly has no function definitions to compare and nothing for ftrace
// to redirect: kpatch-build and klp-build refuse changed .S files too.
export function isAssemblyFile(path: string): boolean {
  return /\.S$/.test(path);
}

// Makefiles and Kconfig decide what is built; a livepatch changes code in
// objects that are already built and loaded.
export function isBuildFile(path: string): boolean {
  return /(^|\/)(Makefile|Kbuild|Kconfig)[^/]*$/.test(path);
}

/** The refusal of a file create cannot patch at all, at its first changed line. */
export function fileRefusal(file: PatchedFile): Diagnostic | undefined {
  const first = file.origin.findIndex((o) => o?.added);
  const line = first >= 0 ? first + 1 : 1;
  const o = file.origin[first];
  const patch = o ? ` (${o.file}:${o.line})` : '';
  if (isAssemblyFile(file.path)) {
    return { file: file.path, line, col: 1, severity: 'error', code: 'create-assembly', message: `changed assembly file: create replaces C functions, and a .S file has none it can compare or ftrace can redirect${patch}` };
  }
  if (isBuildFile(file.path)) {
    return { file: file.path, line, col: 1, severity: 'error', code: 'create-build-changed', message: `changed ${file.path.split('/').pop()}: what the kernel builds cannot change in a running kernel${patch}` };
  }
  return undefined;
}

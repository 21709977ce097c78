/**
 * Kernel idioms the C grammar cannot read, rewritten before parsing into
 * text of exactly the same length (newlines kept), so every offset and
 * line the parse reports still points into the original. The splitter's
 * masking (annotations, list_for_each_*, DEFINE_*) runs after this one.
 *
 * - `SYSCALL_DEFINEn(name, T1, a1, ...)` becomes `long ... sys_name(T1  a1, ...)`:
 *   a function named `sys_<name>` (`compat_sys_<name>` for COMPAT_SYSCALL_DEFINEn);
 * - a type as a macro argument (`container_of(p, struct foo, m)`,
 *   `min_t(unsigned int, a, b)`) becomes one identifier (`struct_foo`);
 * - iteration macros (`*for_each*(...)`, `scoped_*(...)`) become `while`.
 */

export interface SyscallDefinition {
  /** `newuname`. */
  name: string;
  args: number;
  compat: boolean;
  /** The `(COMPAT_)SYSCALL_DEFINEn(...)` head, as written. */
  head: string;
  start: number;
  end: number;
}

const SYSCALL_RE = /\b(COMPAT_)?SYSCALL_DEFINE([0-6])\(/g;

/** The offset just past the parenthesis that closes the one at `open`, or -1. */
function closing(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return i + 1;
  }
  return -1;
}

/** Commas at depth 0 of an argument list's inner text. */
function topLevelCommas(inner: string): number[] {
  const out: number[] = [];
  let depth = 0;
  for (let i = 0; i < inner.length; i++) {
    const c = inner[i];
    if (c === '(' || c === '[') depth++;
    else if (c === ')' || c === ']') depth--;
    else if (c === ',' && depth === 0) out.push(i);
  }
  return out;
}

/** Every SYSCALL_DEFINEn head of a file. */
export function syscallDefinitions(text: string): SyscallDefinition[] {
  const out: SyscallDefinition[] = [];
  for (const m of text.matchAll(SYSCALL_RE)) {
    const open = m.index! + m[0].length - 1;
    const end = closing(text, open);
    if (end < 0) continue;
    // Only at the start of a line: a definition, not a mention in a macro or comment.
    const lineStart = text.lastIndexOf('\n', m.index! - 1) + 1;
    if (text.slice(lineStart, m.index).trim() !== '') continue;
    const inner = text.slice(open + 1, end - 1);
    const name = /^\s*(\w+)/.exec(inner)?.[1];
    if (!name) continue;
    out.push({ name, args: Number(m[2]), compat: !!m[1], head: text.slice(m.index!, end), start: m.index!, end });
  }
  return out;
}

function maskSyscall(text: string, d: SyscallDefinition): string {
  const open = text.indexOf('(', d.start);
  const inner = text.slice(open + 1, d.end - 1);
  const commas = topLevelCommas(inner);
  const nameEnd = commas.length ? commas[0]! : inner.length;
  // `long` + padding + `sys_<name>(` in place of `SYSCALL_DEFINEn(<name>,`.
  const fn = `${d.compat ? 'compat_sys_' : 'sys_'}${d.name}(`;
  const headLen = open + 1 + nameEnd + (commas.length ? 1 : 0) - d.start;
  const head = `long${' '.repeat(Math.max(1, headLen - 4 - fn.length))}${fn}`;
  if (head.length !== headLen) return text;
  // The arguments `T1, a1, T2, a2`: the comma between a type and its name becomes a space.
  let args = inner.slice(nameEnd + (commas.length ? 1 : 0)).split('');
  const argCommas = commas.slice(1).map((c) => c - nameEnd - 1);
  argCommas.forEach((c, k) => {
    if (k % 2 === 0) args[c] = ' ';
  });
  if (!commas.length) args = [];
  return text.slice(0, d.start) + head + args.join('') + text.slice(d.end - 1);
}

const TYPE_ARG_RE = /([(,][ \t]*)((?:struct|union|enum|unsigned|signed|const|long|short)(?:[ \t]+[A-Za-z_]\w*)+)(?=[ \t]*[,)])/g;
const LOOP_RE = /\b(?:[a-z0-9_]*for_each[a-z0-9_]*|scoped_[a-z0-9_]+)(?=\s*\()/g;

export function maskKernelIdioms(text: string): string {
  let out = text;
  for (const d of syscallDefinitions(text)) out = maskSyscall(out, d);
  out = out.replace(TYPE_ARG_RE, (_m, lead: string, type: string) => lead + type.replace(/[ \t]+/g, (ws) => '_'.repeat(ws.length)));
  out = out.replace(LOOP_RE, (m) => (m.length >= 5 ? 'while'.padEnd(m.length, ' ') : m));
  return out;
}

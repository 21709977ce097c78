/**
 * `SYSCALL_DEFINEn(name, T1, a1, ...)` (and the livepatch helpers'
 * `KLP_SYSCALL_DEFINEn`, and `COMPAT_` forms): a function the C grammar
 * cannot read, whose entry points on x86-64 are `__x64_sys_<name>` and
 * `__ia32_sys_<name>` (those a livepatch replaces). Before parsing, the head
 * is rewritten into text of the same length, `long ... sys_<name>(T1  a1, ...)`,
 * so that every offset the parse reports still points into the original.
 */

export interface SyscallDefinition {
  /** `newuname`. */
  name: string;
  args: number;
  compat: boolean;
  /** KLP_SYSCALL_DEFINEn: a replacement written with the livepatch helpers. */
  klp: boolean;
  /** The head `(KLP_)(COMPAT_)SYSCALL_DEFINEn(...)`, as written. */
  head: string;
  start: number;
  end: number;
}

const SYSCALL_RE = /\b(KLP_)?(COMPAT_)?SYSCALL_DEFINE([0-6])\(/g;

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

/** Every syscall definition of a file: a head at the start of a line, not a mention in a macro or comment. */
export function syscallDefinitions(text: string): SyscallDefinition[] {
  const out: SyscallDefinition[] = [];
  for (const m of text.matchAll(SYSCALL_RE)) {
    const open = m.index! + m[0].length - 1;
    const end = closing(text, open);
    if (end < 0) continue;
    const lineStart = text.lastIndexOf('\n', m.index! - 1) + 1;
    if (text.slice(lineStart, m.index).trim() !== '') continue;
    const name = /^\s*(\w+)/.exec(text.slice(open + 1, end - 1))?.[1];
    if (!name) continue;
    out.push({ name, args: Number(m[3]), compat: !!m[2], klp: !!m[1], head: text.slice(m.index!, end), start: m.index!, end });
  }
  return out;
}

/** The functions a syscall definition makes the kernel (or the livepatch) have: its x86-64 entry points. */
export function syscallEntryPoints(d: Pick<SyscallDefinition, 'name' | 'compat'>): string[] {
  return d.compat ? [`__ia32_compat_sys_${d.name}`, `__x64_compat_sys_${d.name}`] : [`__x64_sys_${d.name}`, `__ia32_sys_${d.name}`];
}

/** The name the masked head gives the function: `sys_<name>` (`compat_sys_<name>`). */
export function syscallFunctionName(d: Pick<SyscallDefinition, 'name' | 'compat'>): string {
  return `${d.compat ? 'compat_sys_' : 'sys_'}${d.name}`;
}

function maskOne(text: string, d: SyscallDefinition): string {
  const open = text.indexOf('(', d.start);
  const inner = text.slice(open + 1, d.end - 1);
  const commas = topLevelCommas(inner);
  const nameEnd = commas.length ? commas[0]! : inner.length;
  const fn = `${syscallFunctionName(d)}(`;
  const headLen = open + 1 + nameEnd + (commas.length ? 1 : 0) - d.start;
  const head = `long${' '.repeat(Math.max(1, headLen - 4 - fn.length))}${fn}`;
  if (head.length !== headLen) return text;
  // The arguments `T1, a1, T2, a2`: the comma between a type and its name becomes a space.
  const args = commas.length ? inner.slice(nameEnd + 1).split('') : [];
  commas.slice(1).forEach((c, k) => {
    if (k % 2 === 0) args[c - nameEnd - 1] = ' ';
  });
  return text.slice(0, d.start) + head + args.join('') + text.slice(d.end - 1);
}

/** The text with every syscall head rewritten (same length, same lines). */
export function maskSyscalls(text: string): string {
  let out = text;
  for (const d of syscallDefinitions(text)) out = maskOne(out, d);
  return out;
}

import { maskInitializerPreprocessor } from './initializer-mask.js';
import { maskSyscalls } from './syscall-define.js';

/**
 * Kernel idioms the C grammar does not know, hidden before parsing. Every
 * replacement has the length of what it replaces and keeps newlines, so
 * every offset tree-sitter reports still points into the original text.
 */
const ANNOTATIONS = [
  '__init', '__exit', '__initdata', '__exitdata', '__initconst', '__user', '__rcu',
  '__iomem', '__percpu', '__force', '__must_check', '__maybe_unused', '__always_unused',
  '__used', '__cold', '__hot', 'noinline', '__always_inline', '__noreturn', 'notrace',
  '__visible', '__ro_after_init', '__read_mostly', '__weak', '__latent_entropy',
  '__packed', '__cacheline_aligned', '__cacheline_aligned_in_smp', '____cacheline_aligned',
  '____cacheline_aligned_in_smp', '__randomize_layout', '__no_randomize_layout', '__noclone',
  '__kprobes', 'asmlinkage', '__nocfi', '__ref', '__refdata', '__refconst', '__pure',
  '__attribute_const__', '__malloc', '__nonstring', '__designated_init', '__flatten',
  '__deprecated', '__gnu_inline', '__init_or_module', '__meminit', '__sched', '__cpuidle',
  'noinstr', '__bitwise', '__nocast', '__private', '__kernel', '__page_aligned_data',
  '__page_aligned_bss', '__nosavedata', '__bpf_kfunc', '__must_hold_rcu', '__initdata_or_module',
];

const ANNOTATION_RE = new RegExp(`\\b(?:${ANNOTATIONS.join('|')})\\b`, 'g');

/**
 * Annotations with arguments: GNU attributes and the kernel's macros for
 * them (`__section(".data..x")`, `__aligned(8)`, `__printf(1, 2)`), sparse's
 * lock annotations, and the livepatch relocation annotation that follows a
 * declarator (`extern int x KLP_RELOC_SYMBOL(vmlinux, vmlinux, x);`). The
 * whole call, arguments included, is hidden; the text keeps it byte for byte.
 * `KLP_MODULE_RELOC(obj) name[] = { KLP_SYMPOS(sym, pos), ... };` stands
 * where a type stands: the parser sees `int`, so the array parses as a
 * variable with its initializer. reloc-annotations.ts reads their arguments.
 */
export const ANNOTATION_CALLS = new Set([
  '__attribute__', '__attribute', '__section', '__aligned', '__printf', '__scanf', '__alias',
  '__alloc_size', '__assume_aligned', '__must_hold', '__acquires', '__releases', '__counted_by',
  '__cleanup', '__free', '__mode', '__diagnose_as', '__no_sanitize_or_inline',
  'KLP_RELOC_SYMBOL', 'KLP_RELOC_SYMBOL_POS', 'KLP_MODULE_RELOC',
]);

/** `list_for_each_entry(pos, head, member) {`: a loop header; `while (a, b, c) {` parses the same way. */
const LOOP_MACRO_RE = /\b(?:h?list_for_each\w*|for_each_\w+|klp_for_each_\w+)(?=\s*\()/g;

/**
 * `static DECLARE_WORK(work, fn);` defines `work`; with its later arguments
 * blanked it parses as a declaration of `work` (the splitter reads the
 * arguments from the original text).
 */
const DEFINE_MACRO_RE = /^([ \t]*(?:static[ \t]+)?(?:DEFINE|DECLARE)_[A-Z0-9_]+\([ \t]*[A-Za-z_]\w*)([^;]*?)(\)[ \t]*;)/gm;

/**
 * `DEFINE_PER_CPU(type, name)` (and its _ALIGNED, _READ_MOSTLY... forms,
 * DECLARE_ too) name the variable last: the type is blanked, so the parser
 * sees a declaration of `name`.
 */
const PER_CPU_RE = /^([ \t]*(?:static[ \t]+)?(?:DEFINE|DECLARE)_PER_CPU\w*\()([^;]*,)([ \t]*[A-Za-z_]\w*[ \t]*\)[ \t]*;)/gm;

const blank = (s: string): string => s.replace(/[^\n]/g, ' ');

export function maskAnnotations(source: string): string {
  return maskAnnotationCalls(maskInitializerPreprocessor(maskSyscalls(source)))
    .replace(ANNOTATION_RE, (m) => ' '.repeat(m.length))
    .replace(LOOP_MACRO_RE, (m) => 'while'.padEnd(m.length, ' '))
    .replace(PER_CPU_RE, (_m, head: string, type: string, tail: string) => head + blank(type) + tail)
    .replace(DEFINE_MACRO_RE, (_m, head: string, args: string, tail: string) => head + blank(args) + tail);
}

/** One annotation call in a text: its name, where it starts and where its closing parenthesis ends. */
export interface AnnotationCall {
  name: string;
  start: number;
  /** Just past the closing parenthesis. */
  end: number;
  /** Offsets just inside the parentheses. */
  argsStart: number;
  argsEnd: number;
}

/**
 * The annotation calls of a text, outside comments, strings and character
 * literals. A call whose parentheses never close is not one (the parser then
 * reports the text as it is).
 */
export function annotationCalls(text: string, names: ReadonlySet<string> = ANNOTATION_CALLS): AnnotationCall[] {
  const out: AnnotationCall[] = [];
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text[i]!;
    if (c === '/' && text[i + 1] === '*') {
      const e = text.indexOf('*/', i + 2);
      i = e < 0 ? n : e + 2;
    } else if (c === '/' && text[i + 1] === '/') {
      const e = text.indexOf('\n', i);
      i = e < 0 ? n : e;
    } else if (c === '"' || c === "'") {
      i = literalEnd(text, i);
    } else if (isIdentStart(c) && !isIdentChar(text[i - 1] ?? ' ')) {
      let j = i + 1;
      while (j < n && isIdentChar(text[j]!)) j++;
      const name = text.slice(i, j);
      let k = j;
      while (k < n && (text[k] === ' ' || text[k] === '\t' || text[k] === '\n')) k++;
      const close = names.has(name) && text[k] === '(' ? closingParen(text, k) : -1;
      if (close >= 0) {
        out.push({ name, start: i, end: close + 1, argsStart: k + 1, argsEnd: close });
        i = close + 1;
      } else {
        i = j;
      }
    } else {
      i++;
    }
  }
  return out;
}

function maskAnnotationCalls(text: string): string {
  if (!/__attribute|__section|__aligned|__printf|__scanf|__alias|__alloc_size|__assume_aligned|__must_hold|__acquires|__releases|__counted_by|__cleanup|__free|__mode|__diagnose_as|__no_sanitize|KLP_RELOC_SYMBOL|KLP_MODULE_RELOC/.test(text)) return text;
  const calls = annotationCalls(text);
  if (!calls.length) return text;
  let out = '';
  let at = 0;
  for (const call of calls) {
    const masked = blank(text.slice(call.start, call.end));
    out += text.slice(at, call.start) + (call.name === 'KLP_MODULE_RELOC' ? `int${masked.slice(3)}` : masked);
    at = call.end;
  }
  return out + text.slice(at);
}

function isIdentStart(c: string): boolean {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c === '_';
}

function isIdentChar(c: string): boolean {
  return isIdentStart(c) || (c >= '0' && c <= '9');
}

/** Past the end of the string or character literal opening at `i` (at the line's end when it never closes). */
function literalEnd(text: string, i: number): number {
  const q = text[i]!;
  let j = i + 1;
  while (j < text.length && text[j] !== q && text[j] !== '\n') j += text[j] === '\\' ? 2 : 1;
  return Math.min(j + 1, text.length);
}

/** The offset of the parenthesis closing the one at `open`, skipping literals and comments; -1 when none. */
function closingParen(text: string, open: number): number {
  let depth = 0;
  let i = open;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"' || c === "'") {
      i = literalEnd(text, i);
      continue;
    }
    if (c === '/' && text[i + 1] === '*') {
      const e = text.indexOf('*/', i + 2);
      if (e < 0) return -1;
      i = e + 2;
      continue;
    }
    if (c === '/' && text[i + 1] === '/') {
      const e = text.indexOf('\n', i);
      if (e < 0) return -1;
      i = e;
      continue;
    }
    // A statement or block boundary outside the parentheses' own text: not an annotation after all.
    if (c === ';' || c === '{' || c === '}') return -1;
    if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return i;
    i++;
  }
  return -1;
}

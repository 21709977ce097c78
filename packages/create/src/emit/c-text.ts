import type { Definition } from '../model/kernel-file.js';
import { DEFINE_TYPES } from '../model/define-macros.js';
import { tokenize } from '../model/tokens.js';

/** Pieces of C text the emitter rewrites, each by tokens so strings and comments stay as they are. */

/** `text` with identifiers renamed (never member names after `.` or `->`). */
export function renameIdentifiers(text: string, names: Map<string, string>): string {
  if (!names.size) return text;
  const tokens = tokenize(text);
  let out = '';
  let at = 0;
  tokens.forEach((t, k) => {
    if (t.kind !== 'ident') return;
    const to = names.get(t.text);
    const prev = tokens[k - 1]?.text;
    if (!to || prev === '.' || prev === '->') return;
    out += text.slice(at, t.start) + to;
    at = t.start + t.text.length;
  });
  return out + text.slice(at);
}

/** Words a declaration of the kernel's own symbol must not carry. */
const STORAGE_WORDS = /\b(?:static|inline|__always_inline|noinline|__init|__exit|__initdata|__initconst|__exitdata|__read_mostly|__ro_after_init|__cold|__sched|__visible|__used|__maybe_unused|__latent_entropy|__meminit|__ref|notrace|asmlinkage|__weak)\b\s*|__attribute__\s*\(\(\s*(?:__)?weak(?:__)?\s*\)\)\s*/g;


/** The declarator part of a variable definition: up to its initializer or the semicolon. */
function declarationPart(text: string): string {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '(' || c === '[') depth++;
    else if (c === ')' || c === ']') depth--;
    else if ((c === '=' || c === ';') && depth === 0) return text.slice(0, i);
  }
  return text;
}

/** The number of elements of a `{ ... }` initializer; undefined when designated (`[i] = x`) or absent. */
export function initializerCount(text: string): number | undefined {
  const eq = declarationPart(text).length;
  const open = text.indexOf('{', eq);
  if (text[eq] !== '=' || open < 0) return undefined;
  let depth = 0;
  let count = 0;
  let sawElement = false;
  for (const t of tokenize(text, open)) {
    if (t.text === '{' || t.text === '(' || t.text === '[') {
      if (depth === 1 && t.text === '[' && !sawElement) return undefined;
      depth++;
      if (depth > 1) sawElement = true;
      continue;
    }
    if (t.text === '}' || t.text === ')' || t.text === ']') {
      if (--depth === 0) return count + (sawElement ? 1 : 0);
      continue;
    }
    if (depth === 1 && t.text === ',') {
      count++;
      sawElement = false;
    } else if (depth >= 1) sawElement = true;
  }
  return undefined;
}

/** `extern <declaration of the kernel's symbol>` without storage class or section annotations; undefined when it cannot be written. */
export function externDeclaration(def: Definition, name: string, macroArgs: string[] = []): string | undefined {
  if (def.kind === 'function') return `extern ${def.head!.replace(STORAGE_WORDS, '').replace(/\s+/g, ' ').trim()}`;
  if (def.definedBy) {
    const make = DEFINE_TYPES[def.definedBy];
    return make ? `extern ${make(name, macroArgs)}` : /PER_CPU/.test(def.definedBy) ? `DECLARE_PER_CPU(${macroArgs[0] ?? 'int'}, ${name})` : undefined;
  }
  if (def.names.length !== 1) return undefined;
  let decl = declarationPart(def.text).replace(STORAGE_WORDS, '').replace(/\s+/g, ' ').trim();
  // `x[] = { a, b }`: the count the initializer gave it, so that ARRAY_SIZE(x) still works.
  const count = /\[\s*\]/.test(decl) ? initializerCount(def.text) : undefined;
  if (count !== undefined) decl = decl.replace(/\[\s*\]/, `[${count}]`);
  return `extern ${decl}`;
}

/** A top-level `static`-less function head made static, with another name. */
export function renamedHead(def: Definition, newName: string): string {
  // The head is written anew: in the kernel's style (`char *p`, not `char * p`), which checkpatch holds it to.
  const head = renameIdentifiers(def.head!, new Map([[def.name!, newName]]))
    .replace(/\b(?:inline|__always_inline|__visible)\b\s*/g, '')
    .replace(/(\w)[ \t]+(\*+)[ \t]+(?=\w)/g, '$1 $2');
  return /\bstatic\b/.test(head) ? head : `static ${head}`;
}

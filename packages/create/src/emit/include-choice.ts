import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Definition } from '../model/kernel-file.js';
import { identifiersUsed } from '../model/tokens.js';

/**
 * Which of the fixed file's #includes the livepatch keeps. The file was
 * written to be compiled into the kernel, and a few kernel headers only
 * compile there: asm/tlb.h's inline functions call flush_tlb_mm_range(),
 * which asm/tlbflush.h declares only `#ifndef MODULE`; a livepatch is a
 * module. Such a header (one whose own code uses a name kernel headers hide
 * from modules) is left out when the livepatch uses nothing it declares
 * itself; every other #include is kept, in the file's order (what the code
 * needs of a header cannot be told from names alone: a member access needs
 * the whole struct).
 */

const DECLARED_RE = [
  /^\s*#\s*define\s+([A-Za-z_]\w*)/gm,
  /\b([A-Za-z_]\w*)\s*\([^;{)]*\)[^;{]*[;{]/g,
  /\b(?:struct|union|enum)\s+([A-Za-z_]\w*)\s*\{/g,
  /\btypedef\b[^;]*?\b([A-Za-z_]\w*)\s*(?:\[[^\]]*\])?\s*;/g,
  /\btypedef\b[^;]*?\(\s*\*\s*([A-Za-z_]\w*)\s*\)/g,
  /\bextern\b[^;(]*?\b([A-Za-z_]\w*)\s*(?:\[[^\]]*\])?\s*;/g,
  /^\s*(?:DECLARE|DEFINE)_[A-Z_]+\(\s*([A-Za-z_]\w*)/gm,
];
const INCLUDE_RE = /^\s*#\s*include\s*([<"])([^>"]+)[>"]/gm;
const ENUM_BODY_RE = /\benum\b[^{;]*\{([^}]*)\}/g;

/** The text of `#ifndef MODULE` ... `#endif` blocks (nesting counted), and the rest. */
function splitModuleBlocks(text: string): { hidden: string; rest: string } {
  let hidden = '';
  let rest = '';
  let depth = 0;
  let inside = 0;
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (/^#\s*if/.test(t)) {
      depth++;
      if (!inside && /^#\s*ifndef\s+MODULE\b/.test(t)) inside = depth;
    } else if (/^#\s*endif/.test(t)) {
      if (inside === depth) inside = 0;
      depth--;
    } else if (inside && inside === depth && /^#\s*(else|elif)/.test(t)) {
      inside = 0;
    }
    if (inside) hidden += `${line}\n`;
    else rest += `${line}\n`;
  }
  return { hidden, rest };
}

const C_WORDS = new Set('auto break case char const continue default do double else enum extern float for goto if inline int long register return short signed sizeof static struct switch typedef union unsigned void volatile while bool true false NULL typeof asm __attribute__'.split(' '));

/** What a piece of header declares, line by line: prototypes and definitions, macros, extern variables. */
function declaredAtLineStart(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/^\s*#\s*define\s+([A-Za-z_]\w*)/gm)) names.add(m[1]!);
  for (const m of text.matchAll(/^[A-Za-z_][\w \t*]*?\b([A-Za-z_]\w*)\s*\(/gm)) names.add(m[1]!);
  for (const m of text.matchAll(/^\s*extern\b[^;(]*?\b([A-Za-z_]\w*)\s*(?:\[[^\]]*\])?\s*;/gm)) names.add(m[1]!);
  for (const w of C_WORDS) names.delete(w);
  return names;
}

function declaredIn(text: string): Set<string> {
  const names = new Set<string>();
  for (const re of DECLARED_RE) for (const m of text.matchAll(re)) names.add(m[1]!);
  for (const m of text.matchAll(ENUM_BODY_RE)) for (const e of m[1]!.matchAll(/(?:^|,)\s*([A-Za-z_]\w*)/g)) names.add(e[1]!);
  return names;
}

interface HeaderText {
  /** The text without comments and line continuations. */
  text: string;
  includes: string[];
  /** Names it declares only for the kernel itself (`#ifndef MODULE`). */
  hidden: Set<string>;
}

export class HeaderIndex {
  readonly #own = new Map<string, HeaderText>();
  readonly #details = new Map<string, { names: Set<string>; lineNames: Set<string>; uses: Set<string> }>();

  constructor(readonly includeDirs: string[]) {}

  /** The file `#include <spec>` (or `"spec"` from `from`) reads, if any. */
  resolve(spec: string, quoted: boolean, from?: string): string | undefined {
    const dirs = quoted && from ? [dirname(from), ...this.includeDirs] : this.includeDirs;
    for (const d of dirs) {
      const p = join(d, spec);
      if (existsSync(p)) return p;
    }
    return undefined;
  }

  /** What walking the includes needs of every header: read once. */
  #read(path: string): HeaderText {
    let own = this.#own.get(path);
    if (own) return own;
    const text = readFileSync(path, 'latin1').replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/\\\n/g, ' ');
    const includes: string[] = [];
    for (const m of text.matchAll(INCLUDE_RE)) {
      const p = this.resolve(m[2]!, m[1] === '"', path);
      if (p) includes.push(p);
    }
    own = { text, includes, hidden: /\bMODULE\b/.test(text) ? declaredAtLineStart(splitModuleBlocks(text).hidden) : new Set() };
    this.#own.set(path, own);
    return own;
  }

  /** What judging a header the file includes needs: read only for those. */
  #detailsOf(path: string): { names: Set<string>; lineNames: Set<string>; uses: Set<string> } {
    let d = this.#details.get(path);
    if (!d) {
      const { text } = this.#read(path);
      d = { names: declaredIn(text), lineNames: declaredAtLineStart(text), uses: new Set(identifiersUsed(splitModuleBlocks(text).rest)) };
      this.#details.set(path, d);
    }
    return d;
  }

  /** Names the header's closure declares only for the kernel itself. */
  hiddenFromModules(path: string): Set<string> {
    const out = new Set<string>();
    const seen = new Set<string>();
    const stack = [path];
    while (stack.length) {
      const p = stack.pop()!;
      if (seen.has(p)) continue;
      seen.add(p);
      const own = this.#read(p);
      for (const n of own.hidden) out.add(n);
      stack.push(...own.includes);
    }
    return out;
  }

  /** A name hidden from modules that the header's own code uses, if any. */
  kernelOnlyUse(path: string): string | undefined {
    const hidden = this.hiddenFromModules(path);
    if (!hidden.size) return undefined;
    const own = this.#detailsOf(path);
    for (const n of own.uses) if (hidden.has(n) && !own.lineNames.has(n)) return n;
    return undefined;
  }

  /** The names the header itself declares. */
  ownNames(path: string): Set<string> {
    return this.#detailsOf(path).names;
  }
}

/** The includes to keep, in their order, for code that uses `used`; `dropped` hears about each left out. */
export function chooseIncludes(includes: Definition[], used: Set<string>, index: HeaderIndex, dropped: (inc: Definition, why: string) => void = () => {}): Definition[] {
  return includes.filter((inc) => {
    const m = /#\s*include\s*<([^>]+)>/.exec(inc.text);
    const path = m ? index.resolve(m[1]!, false) : undefined;
    if (!path) return true;
    const hidden = index.kernelOnlyUse(path);
    if (!hidden) return true;
    const own = index.ownNames(path);
    if ([...used].some((n) => own.has(n))) return true;
    dropped(inc, hidden);
    return false;
  });
}

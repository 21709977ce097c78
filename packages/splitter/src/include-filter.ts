import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { identifiersInText } from './c-identifiers.js';
import type { Item } from './items.js';

/**
 * Which of the original #includes a part needs: a kernel header is kept
 * when the part uses a name the header itself declares. Without the
 * kernel's include directories every include is kept.
 */

/** Headers every livepatch part needs for the split glue (THIS_MODULE, klp_add_object, pr_*). */
const ALWAYS_KEPT = new Set(['linux/module.h', 'linux/kernel.h', 'linux/livepatch.h']);

/** What a header declares: macros, functions, struct/union/enum tags, enumerators, typedefs, extern variables. */
const DECLARED_RE = [
  /^\s*#\s*define\s+([A-Za-z_]\w*)/gm,
  /^[A-Za-z_][\w \t*]*?\b([A-Za-z_]\w*)\s*\([^;{]*\)[^;{]*[;{]/gm,
  /\b(?:struct|union|enum)\s+([A-Za-z_]\w*)\s*\{/g,
  /^typedef\b[^;]*?\b([A-Za-z_]\w*)\s*(?:\[[^\]]*\])?\s*;/gm,
  /^typedef\b[^;]*?\(\s*\*\s*([A-Za-z_]\w*)\s*\)/gm,
  /^extern\b[^;(]*?\b([A-Za-z_]\w*)\s*(?:\[[^\]]*\])?\s*;/gm,
];
const ENUM_BODY_RE = /\benum\b[^{;]*\{([^}]*)\}/g;
const C_WORDS = new Set(
  'auto break case char const continue default do double else enum extern float for goto if inline int long register return short signed sizeof static struct switch typedef union unsigned void volatile while bool true false NULL'.split(' '),
);

const declaredCache = new Map<string, Set<string>>();

function declaredBy(path: string): Set<string> {
  let names = declaredCache.get(path);
  if (!names) {
    const text = readFileSync(path, 'utf8');
    names = new Set();
    for (const re of DECLARED_RE) for (const m of text.matchAll(re)) names.add(m[1]!);
    for (const m of text.matchAll(ENUM_BODY_RE)) for (const e of m[1]!.matchAll(/(?:^|,)\s*([A-Za-z_]\w*)/g)) names.add(e[1]!);
    for (const w of C_WORDS) names.delete(w);
    declaredCache.set(path, names);
  }
  return names;
}

export class IncludeFilter {
  constructor(private readonly includeDirs: readonly string[]) {}

  private resolve(header: string): string | undefined {
    for (const dir of this.includeDirs) {
      const p = join(dir, header);
      if (existsSync(p)) return p;
    }
    return undefined;
  }

  /** Whether a part whose items use `uses` needs the include item. */
  needs(include: Item, uses: Set<string>): boolean {
    const header = /#\s*include\s*<([^>]+)>/.exec(include.text)?.[1];
    if (!header || ALWAYS_KEPT.has(header)) return true;
    const path = this.resolve(header);
    if (!path) return true;
    const declared = declaredBy(path);
    for (const name of uses) if (declared.has(name)) return true;
    return false;
  }
}

/** The names a part's items use. */
export function partUses(items: readonly Item[]): Set<string> {
  const uses = new Set<string>();
  for (const item of items) {
    if (item.kind === 'include') continue;
    for (const n of item.uses) uses.add(n);
    if (item.kind === 'macro') for (const n of identifiersInText(item.text)) uses.add(n);
  }
  return uses;
}

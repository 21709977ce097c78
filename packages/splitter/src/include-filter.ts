import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { identifiersInText } from './c-identifiers.js';
import { condIdentifiers, type Item } from './items.js';
import { localNames } from './shadowing.js';

/**
 * Which of the original #includes a per-object part keeps. A part drops a
 * kernel header only when it is sure not to need it: no name the part uses
 * (its own functions' parameters and locals aside) is mentioned by what the
 * header brings in beyond the part's other headers, unless those other
 * headers declare it. Mentioned rather than declared, and declared by a
 * plain reading of the headers: each approximation errs on keeping the
 * header. The main module keeps every include of the original (it is the
 * original, less what moved), and so does every part without the kernel's
 * include directories.
 */

/** Headers every livepatch part needs for the split glue (THIS_MODULE, klp_add_object, pr_*). */
const ALWAYS_KEPT = new Set(['linux/module.h', 'linux/kernel.h', 'linux/livepatch.h']);

const C_WORDS = new Set(
  'auto break case char const continue default do double else enum extern float for goto if inline int long register return short signed sizeof static struct switch typedef union unsigned void volatile while bool true false NULL defined'.split(' '),
);

/** One header as read: the headers it includes, each with whether it does so under a condition. */
interface HeaderFile {
  includes: { name: string; quoted: boolean; conditional: boolean }[];
  text: string;
  /** Every identifier the header's code mentions. */
  words?: Set<string>;
  /** What it declares: macros, functions, tags, enumerators, typedefs, extern variables. */
  declared?: Set<string>;
}

/** Declarations as kernel headers write them, read plainly (a miss only keeps a header). */
const DECLARED_RE = [
  /^\s*#\s*define\s+([A-Za-z_]\w*)/gm,
  /^[A-Za-z_][\w \t*]*?\b([A-Za-z_]\w*)\s*\([^;{]*\)[^;{]*[;{]/gm,
  /\b(?:struct|union|enum)\s+([A-Za-z_]\w*)\s*\{/g,
  /^typedef\b[^;]*?\b([A-Za-z_]\w*)\s*(?:\[[^\]]*\])?\s*;/gm,
  /^typedef\b[^;]*?\(\s*\*\s*([A-Za-z_]\w*)\s*\)/gm,
  /^extern\b[^;(]*?\b([A-Za-z_]\w*)\s*(?:\[[^\]]*\])?\s*;/gm,
];
const ENUM_BODY_RE = /\benum\b[^{;]*\{([^}]*)\}/g;

const DIRECTIVE = /^[ \t]*#[ \t]*(include|if|ifdef|ifndef|elif|else|endif|define)\b[ \t]*(?:([<"])([^>"\n]+)[>"]|(\w*))/gm;

/** The includes of a header and whether each is under a condition (its include guard aside). */
function readHeader(path: string): HeaderFile {
  const text = readFileSync(path, 'latin1');
  const includes: HeaderFile['includes'] = [];
  let depth = 0;
  // The include guard (`#ifndef X_H` then `#define X_H` first) is not a condition on what the header includes.
  let guard = 0;
  let first = true;
  let guardName: string | undefined;
  for (const m of text.matchAll(DIRECTIVE)) {
    const kind = m[1]!;
    if (kind === 'include') {
      if (m[3]) includes.push({ name: m[3], quoted: m[2] === '"', conditional: depth > guard });
    } else if (kind === 'define') {
      if (guardName !== undefined && m[4] === guardName) guard = 1;
    } else if (kind === 'if' || kind === 'ifdef' || kind === 'ifndef') {
      depth++;
    } else if (kind === 'endif') {
      depth--;
      if (depth < guard) guard = 0;
    }
    guardName = first && kind === 'ifndef' ? m[4] : undefined;
    first = false;
  }
  return { includes, text };
}

/** What was read of one kernel tree's headers, shared by every split in the process. */
interface TreeCache {
  headers: Map<string, HeaderFile>;
  resolved: Map<string, string | null>;
  closures: Map<string, { all: Set<string>; sure: Set<string> }>;
}

const trees = new Map<string, TreeCache>();

export class IncludeFilter {
  private readonly headers: Map<string, HeaderFile>;
  private readonly resolved: Map<string, string | null>;
  private readonly closures: Map<string, { all: Set<string>; sure: Set<string> }>;

  constructor(private readonly includeDirs: readonly string[]) {
    const key = includeDirs.join('\0');
    let cache = trees.get(key);
    if (!cache) trees.set(key, (cache = { headers: new Map(), resolved: new Map(), closures: new Map() }));
    ({ headers: this.headers, resolved: this.resolved, closures: this.closures } = cache);
  }

  private resolve(name: string, from?: string): string | undefined {
    if (from) {
      const p = join(dirname(from), name);
      if (existsSync(p)) return p;
    }
    let r = this.resolved.get(name);
    if (r === undefined) {
      r = null;
      for (const dir of this.includeDirs) {
        const p = join(dir, name);
        if (existsSync(p)) {
          r = p;
          break;
        }
      }
      this.resolved.set(name, r);
    }
    return r ?? undefined;
  }

  private header(path: string): HeaderFile {
    let h = this.headers.get(path);
    if (!h) this.headers.set(path, (h = readHeader(path)));
    return h;
  }

  /**
   * Every file a header brings in (`all`), and those it brings in whatever
   * the configuration (`sure`: no include under a condition on the way).
   */
  private closure(path: string): { all: Set<string>; sure: Set<string> } {
    let c = this.closures.get(path);
    if (!c) this.closures.set(path, (c = { all: this.reach(path, false), sure: this.reach(path, true) }));
    return c;
  }

  private reach(path: string, onlySure: boolean): Set<string> {
    const seen = new Set([path]);
    const stack = [path];
    while (stack.length) {
      const p = stack.pop()!;
      for (const inc of this.header(p).includes) {
        if (onlySure && inc.conditional) continue;
        const q = this.resolve(inc.name, inc.quoted ? p : undefined);
        if (q && !seen.has(q)) {
          seen.add(q);
          stack.push(q);
        }
      }
    }
    return seen;
  }

  private words(path: string): Set<string> {
    const h = this.header(path);
    h.words ??= new Set(h.text.replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, ' ').match(/[A-Za-z_]\w*/g) ?? []);
    return h.words;
  }

  private declared(path: string): Set<string> {
    const h = this.header(path);
    if (!h.declared) {
      const names = new Set<string>();
      for (const re of DECLARED_RE) for (const m of h.text.matchAll(re)) names.add(m[1]!);
      for (const m of h.text.matchAll(ENUM_BODY_RE)) for (const e of m[1]!.matchAll(/(?:^|,)\s*([A-Za-z_]\w*)/g)) names.add(e[1]!);
      h.declared = names;
    }
    return h.declared;
  }

  /** The include items (in source order) a part whose code uses `uses` keeps. */
  keep(includes: readonly Item[], uses: ReadonlySet<string>): Set<Item> {
    const kept = new Set<Item>();
    const available = new Set<string>();
    const names = [...uses].filter((n) => !C_WORDS.has(n));
    const decide: [Item, string][] = [];
    for (const item of includes) {
      const name = /#\s*include\s*<([^>]+)>/.exec(item.text)?.[1];
      const path = name ? this.resolve(name) : undefined;
      // A local header, one not in the kernel's directories, or one of the glue's: kept.
      if (!name || !path || ALWAYS_KEPT.has(name)) {
        kept.add(item);
        if (path && item.conds.length === 0) for (const p of this.closure(path).sure) available.add(p);
      } else decide.push([item, path]);
    }
    const declaredElsewhere = (n: string): boolean => [...available].some((p) => this.declared(p).has(n));
    for (const [item, path] of decide) {
      const { all, sure } = this.closure(path);
      const mentioned = new Set<string>();
      for (const p of all) {
        if (available.has(p)) continue;
        const words = this.words(p);
        for (const n of names) if (words.has(n)) mentioned.add(n);
      }
      if (![...mentioned].some((n) => !declaredElsewhere(n))) continue;
      kept.add(item);
      if (item.conds.length === 0) for (const p of sure) available.add(p);
    }
    return kept;
  }
}

/** What the glue of a part needs beyond its items: the names the generated code uses. */
const GLUE_NAMES = ['THIS_MODULE', 'klp_add_object', 'klp_enable_patch', 'KBUILD_MODNAME', 'EXPORT_SYMBOL_GPL', 'NULL'];

/** The names a part's items use, the conditions they are written under included (items.ts). */
export function partUses(items: readonly Item[]): Set<string> {
  const uses = new Set<string>(GLUE_NAMES);
  for (const item of items) {
    if (item.kind === 'include') {
      // Not the header's name (`linux`, `h`): only what its condition tests (`#if LINUX_VERSION_CODE ...`).
      for (const n of condIdentifiers(item.conds)) uses.add(n);
      continue;
    }
    if (item.kind === 'macro') {
      const body = macroUses(item.text);
      // Its body's names (not its parameters) and the conditions it is under.
      for (const n of item.uses) if (body.includes(n) || !identifiersInText(item.text).includes(n)) uses.add(n);
      for (const n of body) uses.add(n);
    } else for (const n of item.uses) uses.add(n);
  }
  return uses;
}

/** Names the compiler's command line defines for every kernel object (kbuild's -D and -include). */
const COMPILER_NAMES = /^(?:KBUILD_MODNAME|KBUILD_BASENAME|KBUILD_MODFILE|MODULE|__KERNEL__|CONFIG_\w+|__FILE__|__LINE__|__func__|__COUNTER__)$/;

/** What a macro's body uses: its identifiers but the directive, its name and its parameters. */
function macroUses(text: string): string[] {
  const m = /^\s*#\s*define\s+([A-Za-z_]\w*)(\(([^)]*)\))?/.exec(text);
  if (!m) return identifiersInText(text);
  const params = new Set((m[3] ?? '').split(',').map((p) => p.trim()));
  return identifiersInText(text.slice(m[0].length)).filter((n) => !params.has(n));
}

/** The parts' includes the filter decides on: what a per-object part keeps; the main part keeps them all. */
export interface IncludePart {
  items: Item[];
  exitStatements: { uses: Set<string> }[];
  entry?: { roots: Set<string> };
  /** Init work moved into the part (init-split.ts). */
  initWork?: { uses: Set<string> };
  usesHeader: boolean;
}

/**
 * Drops from each per-object part the kernel headers it is sure it does not
 * need. `own` are the names the livepatch defines itself (the split makes
 * them visible where they are used).
 */
export function pruneIncludes(parts: readonly IncludePart[], header: readonly Item[], filter: IncludeFilter, own: ReadonlyMap<string, unknown>): void {
  for (const part of parts) {
    const uses = partUses(part.usesHeader ? [...part.items, ...header] : part.items);
    // A function's parameters and locals name nothing a header declares; nor does a macro's parameter.
    for (const item of part.items) if (item.kind === 'function') for (const n of localNames(item.node)) uses.delete(n);
    for (const n of uses) if (own.has(n) || COMPILER_NAMES.test(n)) uses.delete(n);
    for (const st of part.exitStatements) for (const n of st.uses) uses.add(n);
    for (const n of part.initWork?.uses ?? []) uses.add(n);
    for (const n of part.entry?.roots ?? []) uses.add(n);
    const kept = filter.keep(part.items.filter((i) => i.kind === 'include'), uses);
    part.items = part.items.filter((i) => i.kind !== 'include' || kept.has(i));
  }
}

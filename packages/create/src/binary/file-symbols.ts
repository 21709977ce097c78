import type { CodeSymbol, ObjectCode } from './object-code.js';

/**
 * Which of an object's symbols of a name is the one a given source file
 * defines, and its old_sympos. A static name can occur many times in
 * vmlinux (every driver has its `show`); the linker keeps each file's
 * symbols together, so the occurrence whose kallsyms neighbours are the
 * file's own other definitions is the file's. A name that occurs once has
 * old_sympos 0; otherwise it is the occurrence's 1-based rank, as
 * klp_find_object_symbol() counts.
 */

export type FileSymbol =
  | { found: true; symbol: CodeSymbol; sympos: number; count: number }
  | { found: false; why: 'absent' }
  | { found: false; why: 'ambiguous'; candidates: CodeSymbol[] };

/**
 * How much of its kallsyms neighbourhood (symbols of the same kind on
 * either side) the file defines: each neighbour the file has counts 1/d at
 * distance d, so the file's own block outweighs a block nearby.
 */
function neighbourhood(code: ObjectCode, s: CodeSymbol, fileNames: Set<string>, radius = 12): number {
  let score = 0;
  const own = baseName(s.name);
  for (const step of [-1, 1]) {
    let d = 0;
    for (let i = s.index + step; i >= 0 && i < code.symbols.length && d < radius; i += step) {
      const n = code.symbols[i]!;
      if (n.kind !== s.kind) continue;
      d++;
      const base = baseName(n.name);
      if (base !== own && fileNames.has(base)) score += 1 / d;
    }
  }
  return score;
}

/** `foo.isra.0`, `foo.cold`, `bar.12` -> `foo`, `foo`, `bar`. */
export function baseName(name: string): string {
  const dot = name.indexOf('.');
  return dot > 0 ? name.slice(0, dot) : name;
}

/** The file's symbol among `candidates` (all of the same name), by neighbourhood; undefined when no single best. */
export function pickByNeighbourhood(code: ObjectCode, candidates: CodeSymbol[], fileNames: Set<string>): CodeSymbol | undefined {
  if (candidates.length === 1) return candidates[0];
  const scored = candidates.map((c) => ({ c, score: neighbourhood(code, c, fileNames) }));
  const best = Math.max(...scored.map((s) => s.score));
  const top = scored.filter((s) => best - s.score < 1e-9);
  return best > 0 && top.length === 1 ? top[0]!.c : undefined;
}

/** The symbol of `name` defined by the file whose definitions are `fileNames`. */
export function symbolOfFile(code: ObjectCode, name: string, kind: CodeSymbol['kind'], fileNames: Set<string>): FileSymbol {
  const all = code.occurrences(name);
  const ofKind = all.filter((s) => s.kind === kind);
  if (!ofKind.length) return { found: false, why: 'absent' };
  const symbol = pickByNeighbourhood(code, ofKind, fileNames);
  if (!symbol) return { found: false, why: 'ambiguous', candidates: ofKind };
  return { found: true, symbol, sympos: all.length === 1 ? 0 : all.indexOf(symbol) + 1, count: all.length };
}

/** GCC's clones of a function (`.isra.N`, `.constprop.N`, `.part.N`, and their combinations), not `.cold` parts. */
export function clonesOf(code: ObjectCode, name: string, fileNames: Set<string>): CodeSymbol[] {
  const prefix = `${name}.`;
  const out: CodeSymbol[] = [];
  const byName = new Map<string, CodeSymbol[]>();
  for (const s of code.symbols) {
    if (s.kind !== 'text' || !s.name.startsWith(prefix)) continue;
    const suffix = s.name.slice(prefix.length);
    if (!/^(?:(?:isra|constprop|part|lto_priv)\.\d+\.?)+$/.test(suffix)) continue;
    byName.set(s.name, [...(byName.get(s.name) ?? []), s]);
  }
  for (const list of byName.values()) {
    const s = pickByNeighbourhood(code, list, fileNames);
    if (s) out.push(s);
  }
  return out;
}

/** A static local `name` of a function: its `name.N` data symbols next to the file's. */
export function staticLocalCandidates(code: ObjectCode, name: string, fileNames: Set<string>): CodeSymbol[] {
  const re = new RegExp(`^${name.replace(/[$]/g, '\\$&')}\\.\\d+$`);
  const all = code.symbols.filter((s) => s.kind === 'data' && re.test(s.name));
  if (all.length <= 1) return all;
  const scored = all.map((c) => ({ c, score: neighbourhood(code, c, fileNames) }));
  const best = Math.max(...scored.map((s) => s.score));
  return best > 0 ? scored.filter((s) => best - s.score < 1e-9).map((s) => s.c) : all;
}

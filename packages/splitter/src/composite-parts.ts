import type { Item, SourceUnit } from './items.js';
import type { LivepatchModel } from './livepatch-model.js';
import type { PartPlan, SplitPlan } from './plan.js';

/**
 * The original files of a livepatch module built from several (multi-file.ts),
 * so that a part whose code comes from several of them is written as several
 * files, each holding what its original held.
 */
export interface UnitFiles {
  /** The originals' base names (no `.c`), in link order. */
  bases: string[];
  /** The original (index into bases) a line of the unit comes from. */
  fileOfLine: (line: number) => number;
  /** Each original's opening comments (the unit's header is the first one's). */
  headers: string[];
  /** Each original's own `#include` lines, trimmed (the unit keeps each include once). */
  includes: Set<string>[];
  /** convert: the main part keeps the originals' names, whatever it holds of each. */
  mainInPlace?: boolean;
}

/** The file a part is built from: one, or several (a kbuild composite) in link order. */
export interface PartFiles {
  /** The file holding the part's klp_object (or klp_patch). */
  file: string;
  files?: string[];
}

interface Composite {
  /** Indexes of the originals the part's files come from, in link order. */
  files: number[];
  /** The original holding the part's klp_object entry (or the klp_patch): the glue goes there. */
  glue: number;
  itemIn: (item: Item, k: number) => boolean;
  /** An include the unit took from another original is written without that original's comments. */
  textIn: (item: Item, k: number) => string;
}

/** How a part splits into files by original, or undefined when its code comes from one original. */
export function compositeOf(unit: SourceUnit, model: LivepatchModel, plan: SplitPlan, part: PartPlan, originals: UnitFiles, always: boolean): Composite | undefined {
  const origin = (i: Item): number => originals.fileOfLine(i.node.startPosition.row + 1);
  const isMain = part === plan.main;
  const items = isMain ? unit.items.filter((i) => plan.roles.get(i) === 'special' || part.items.includes(i)) : part.items;
  // Includes and pr_fmt go with each file's own; they make no file of their own.
  const code = items.filter((i) => i.kind !== 'include' && plan.roles.get(i) !== 'everywhere');
  const glue = isMain ? origin(model.patchItem) : originals.fileOfLine(part.entry?.pos.line ?? 1);
  const set = new Set([glue, ...code.map(origin)]);
  if (set.size < 2 && !always) return undefined;
  const files = [...set].sort((a, b) => a - b);
  const itemIn = (i: Item, k: number): boolean => {
    if (i.kind === 'include') return origin(i) === k || originals.includes[k]!.has(i.node.text.trim());
    return origin(i) === k;
  };
  const textIn = (i: Item, k: number): string => (i.kind === 'include' && origin(i) !== k ? i.node.text.trimEnd() : i.text);
  return { files, glue, itemIn, textIn };
}

/** The opening comments of the file made from original `k`; only the first original's are lines of the unit. */
export function prologueOf(unit: SourceUnit, originals: UnitFiles, k: number): Prologue {
  return k === 0 ? { text: unit.header, fromSource: true } : { text: originals.headers[k] ?? '', fromSource: false };
}

export interface Prologue {
  text: string;
  /** The text is the unit's own first lines (mapped one to one). */
  fromSource: boolean;
}


import type { Cond } from './items.js';

/** A piece of an output file: text, the blank lines after it, and its #ifdef context. */
export interface Entry {
  text: string;
  gap: string;
  conds: Cond[];
  /** The original line of the entry's first line; `lines` of them map one to one when exact. */
  origin?: { line: number; lines: number; exact: boolean };
}

/** A generated line's original line (1-based), for the source map. */
export interface RenderedOrigin {
  line: number;
  exact: boolean;
}

function sameCond(a: Cond | undefined, b: Cond | undefined): boolean {
  return !!a && !!b && a.at === b.at && a.branch === b.branch;
}

function sameBlock(a: Cond | undefined, b: Cond | undefined): boolean {
  return !!a && !!b && a.at === b.at;
}

/**
 * Concatenates entries, reopening the preprocessor conditionals each entry
 * was written under, so an item inside `#ifdef CONFIG_X` keeps its condition
 * in whatever file it lands. Blank lines around a block follow the original.
 */
export function renderEntries(entries: Entry[], map?: (RenderedOrigin | undefined)[]): string {
  // Pieces joined once, newlines counted as they are added: re-reading a growing string is quadratic.
  const out: string[] = [];
  let newlines = 0;
  const put = (text: string): void => {
    out.push(text);
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) newlines++;
  };
  let open: Cond[] = [];
  let prevGap: string | undefined;
  for (const entry of entries) {
    let common = 0;
    while (common < open.length && common < entry.conds.length && sameCond(open[common], entry.conds[common])) common++;
    const changes = common !== open.length || common !== entry.conds.length;
    if (prevGap !== undefined) put(changes ? '\n' : prevGap);
    if (changes) {
      const switchesBranch = common === open.length - 1 && common < entry.conds.length && sameBlock(open[common], entry.conds[common]);
      if (switchesBranch) {
        put(`${entry.conds[common]!.elseText}\n`);
        common++;
      } else {
        for (let i = open.length - 1; i >= common; i--) put('#endif\n');
        if (prevGap === '\n\n' && (open.length > common || entry.conds.length > common)) put('\n');
      }
      for (let i = common; i < entry.conds.length; i++) {
        const c = entry.conds[i]!;
        put(`${c.open}\n`);
        if (c.branch === 'else') put(`${c.elseText}\n`);
      }
    }
    open = entry.conds;
    if (map && entry.origin) {
      const first = newlines;
      const n = (entry.text.match(/\n/g) ?? []).length + 1;
      const o = entry.origin;
      for (let k = 0; k < n; k++) map[first + k] = o.exact ? { line: o.line + Math.min(k, o.lines - 1), exact: k < o.lines } : { line: o.line, exact: false };
    }
    put(entry.text);
    prevGap = entry.gap;
  }
  if (open.length) put('\n');
  for (let i = open.length - 1; i >= 0; i--) put('#endif\n');
  const text = out.join('');
  let end = text.length;
  while (end > 0 && text[end - 1] === '\n') end--;
  return `${text.slice(0, end)}\n`;
}

import type { Cond, Preamble } from './top-level.js';

/** A piece of an output file: text, the blank lines after it, and its #ifdef context. */
export interface Entry {
  text: string;
  gap: string;
  conds: Cond[];
  /** Comments that precede blocks this entry opens first (see top-level.ts). */
  preambles?: Preamble[];
  /** The original line of the entry's first line; `lines` of them map one to one when exact. */
  origin?: { line: number; lines: number; exact: boolean };
}

/** A generated line's original line (1-based), for the source map. */
export interface RenderedOrigin {
  line: number;
  exact: boolean;
}

/** The same branch of the same block. */
function sameCond(a: Cond | undefined, b: Cond | undefined): boolean {
  return !!a && !!b && a.at === b.at && a.directives.length === b.directives.length;
}

/**
 * Concatenates entries, reopening the preprocessor conditionals each entry
 * was written under, so an item inside `#ifdef CONFIG_X` keeps its condition
 * in whatever file it lands: every block it opens it closes, each once. An
 * item in a later branch (`#elif B`, `#else`) is written after the
 * directives of the branches before it, empty when the file has none of
 * their items. Blank lines around a block follow the original.
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
  const close = (to: number): void => {
    for (let i = open.length - 1; i >= to; i--) put(`${open[i]!.endif}\n`);
  };
  for (const entry of entries) {
    let common = 0;
    while (common < open.length && common < entry.conds.length && sameCond(open[common], entry.conds[common])) common++;
    const changes = common !== open.length || common !== entry.conds.length;
    if (prevGap !== undefined) put(changes ? '\n' : prevGap);
    if (changes) {
      const was = open[common];
      const next = entry.conds[common];
      // The next branch of a block already open: its directives follow the deeper blocks' ends.
      if (was && next && was.at === next.at && next.directives.length > was.directives.length) {
        close(common + 1);
        for (const d of next.directives.slice(was.directives.length)) put(`${d}\n`);
        common++;
      } else {
        // A blank line after the blocks it closes when the original has one after the outermost of them or after the
        // last entry; before the blocks it opens as after the entry before.
        const closed = open[common];
        close(common);
        if (closed ? closed.blankAfter || prevGap === '\n\n' : prevGap === '\n\n' && entry.conds.length > common) put('\n');
      }
      for (let i = common; i < entry.conds.length; i++) {
        for (const p of entry.preambles ?? []) if (p.level === i) put(p.text);
        for (const d of entry.conds[i]!.directives) put(`${d}\n`);
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
  close(0);
  const text = out.join('');
  let end = text.length;
  while (end > 0 && text[end - 1] === '\n') end--;
  return `${text.slice(0, end)}\n`;
}

import type { Cond } from './items.js';

/** A piece of an output file: text, the blank lines after it, and its #ifdef context. */
export interface Entry {
  text: string;
  gap: string;
  conds: Cond[];
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
export function renderEntries(entries: Entry[]): string {
  let out = '';
  let open: Cond[] = [];
  let prevGap: string | undefined;
  for (const entry of entries) {
    let common = 0;
    while (common < open.length && common < entry.conds.length && sameCond(open[common], entry.conds[common])) common++;
    const changes = common !== open.length || common !== entry.conds.length;
    if (prevGap !== undefined) out += changes ? '\n' : prevGap;
    if (changes) {
      const switchesBranch = common === open.length - 1 && common < entry.conds.length && sameBlock(open[common], entry.conds[common]);
      if (switchesBranch) {
        out += `${entry.conds[common]!.elseText}\n`;
        common++;
      } else {
        for (let i = open.length - 1; i >= common; i--) out += '#endif\n';
        if (prevGap === '\n\n' && (open.length > common || entry.conds.length > common)) out += '\n';
      }
      for (let i = common; i < entry.conds.length; i++) {
        const c = entry.conds[i]!;
        out += `${c.open}\n`;
        if (c.branch === 'else') out += `${c.elseText}\n`;
      }
    }
    open = entry.conds;
    out += entry.text;
    prevGap = entry.gap;
  }
  if (open.length) out += '\n';
  for (let i = open.length - 1; i >= 0; i--) out += '#endif\n';
  return out.replace(/\n*$/, '\n');
}

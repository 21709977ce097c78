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
 * in whatever file it lands.
 */
export function renderEntries(entries: Entry[]): string {
  let out = '';
  let open: Cond[] = [];
  for (const entry of entries) {
    let common = 0;
    while (common < open.length && common < entry.conds.length && sameCond(open[common], entry.conds[common])) common++;
    const switchesBranch =
      common < open.length && common < entry.conds.length && sameBlock(open[common], entry.conds[common]) && common === open.length - 1;
    if (switchesBranch) {
      out += `${entry.conds[common]!.elseText}\n`;
      common++;
    } else {
      for (let i = open.length - 1; i >= common; i--) out += '#endif\n';
    }
    for (let i = common; i < entry.conds.length; i++) {
      const c = entry.conds[i]!;
      out += `${c.open}\n`;
      if (c.branch === 'else') out += `${c.elseText}\n`;
    }
    open = entry.conds;
    out += entry.text;
    out += open.length ? '\n' : entry.gap;
  }
  for (let i = open.length - 1; i >= 0; i--) out += '#endif\n';
  return out.replace(/\n*$/, '\n');
}

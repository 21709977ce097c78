import type { ObjectSymbolTable } from './symbol-table.js';

/** A problem with one symbol, before it is placed at its C line. */
export interface SymbolProblem {
  code: string;
  message: string;
  severity: 'error' | 'warning';
}

type SymposResult = { sympos: number; warning?: SymbolProblem } | { problem: SymbolProblem };

/**
 * The sympos to write for `symbol` in `object`: 0 when the name is unique
 * there, else the position the author annotated, checked against the
 * object's symbols in kallsyms order (klp_find_object_symbol()'s rules).
 */
export function resolveSympos(symbol: string, object: string, table: ObjectSymbolTable | undefined, annotated: number | undefined): SymposResult {
  if (!table) {
    const sympos = annotated ?? 0;
    return {
      sympos,
      warning: {
        severity: 'warning',
        code: 'klp-sympos-unverified',
        message: `no symbol table of '${object}' to check '${symbol}' against (give its .ko with --target, or a kallsyms dump for vmlinux): sympos ${sympos} written unverified`,
      },
    };
  }
  const count = table.count(symbol);
  const error = (code: string, message: string): SymposResult => ({ problem: { severity: 'error', code, message } });
  if (count === 0) {
    const variants = table.suffixedVariants(symbol);
    if (variants.length) {
      const list = variants.map((v) => `'${v}'`).join(', ');
      return error('klp-symbol-suffixed', `'${symbol}' is not in '${object}' under that name, only as the compiler's ${list}: name that one in KLP_RELOC_SYMBOL(..., ${object}, ${variants[0]}) if it is the function meant`);
    }
    return error('klp-symbol-not-found', `'${symbol}' is in no object: it is not exported, and '${object}' (${table.source}) has no symbol of that name`);
  }
  const candidates = (): string => Array.from({ length: Math.min(count, 8) }, (_, i) => `(${object}, ${i + 1})`).join(', ') + (count > 8 ? `, ... ${count} in all` : '');
  if (annotated !== undefined) {
    if (annotated > count) return error('klp-sympos-out-of-range', `position ${annotated} of '${symbol}' in '${object}' does not exist: the name occurs ${count} time${count === 1 ? '' : 's'} there`);
    if (annotated === 0 && count > 1) return error('klp-symbol-ambiguous', `'${symbol}' occurs ${count} times in '${object}' and the annotation gives position 0; candidates: ${candidates()}`);
    return { sympos: annotated };
  }
  if (count > 1) {
    return error('klp-symbol-ambiguous', `'${symbol}' occurs ${count} times in '${object}'; say which with KLP_RELOC_SYMBOL_POS(<lp_obj>, ${object}, ${symbol}, <pos>); candidates: ${candidates()}`);
  }
  return { sympos: 0 };
}

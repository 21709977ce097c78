import { annotationCalls } from './mask.js';

/**
 * The livepatch relocation annotations of a source, read from its text:
 * `extern T name KLP_RELOC_SYMBOL(lp_obj, sym_obj, sym);` and
 * `KLP_RELOC_SYMBOL_POS(lp_obj, sym_obj, sym, pos)`. The parser sees such a
 * declaration with the annotation blanked (mask.ts), so it is an ordinary
 * `extern` declaration of `name`; its text keeps the annotation byte for
 * byte. This is where the annotation's arguments are read.
 */
export interface RelocAnnotation {
  form: 'KLP_RELOC_SYMBOL' | 'KLP_RELOC_SYMBOL_POS';
  /** The name the declaration declares (the C name the code uses). */
  declared?: string;
  /** The object whose `.klp.rela` section gets the relocation. */
  lpObject: string;
  /** The object the symbol is in (`vmlinux` or a module). */
  symObject: string;
  symbol: string;
  /** The position argument; 0 for KLP_RELOC_SYMBOL; undefined when it is not a decimal literal. */
  sympos?: number;
  /** The annotation's offsets in the source (its name to its closing parenthesis). */
  start: number;
  end: number;
  /** 1-based line and column of the annotation's name. */
  line: number;
  col: number;
}

const RELOC_NAMES = new Set(['KLP_RELOC_SYMBOL', 'KLP_RELOC_SYMBOL_POS']);

/** Every relocation annotation in `source` whose arguments have the annotation's shape. */
export function relocAnnotations(source: string): RelocAnnotation[] {
  if (!source.includes('KLP_RELOC_SYMBOL')) return [];
  const out: RelocAnnotation[] = [];
  for (const call of annotationCalls(source, RELOC_NAMES)) {
    const args = splitArgs(source.slice(call.argsStart, call.argsEnd));
    const form = call.name as RelocAnnotation['form'];
    if (args.length !== (form === 'KLP_RELOC_SYMBOL' ? 3 : 4)) continue;
    const [lpObject, symObject, symbol, pos] = args as [string, string, string, string | undefined];
    const before = source.slice(Math.max(0, call.start - 300), call.start);
    const declared = /([A-Za-z_]\w*)\s*(?:\[[^\]]*\]\s*)*$/.exec(before)?.[1];
    const lineStart = source.lastIndexOf('\n', call.start - 1) + 1;
    out.push({
      form,
      ...(declared ? { declared } : {}),
      lpObject,
      symObject,
      symbol,
      ...(pos === undefined ? { sympos: 0 } : /^\d+$/.test(pos) ? { sympos: Number(pos) } : {}),
      start: call.start,
      end: call.end,
      line: (source.slice(0, call.start).match(/\n/g) ?? []).length + 1,
      col: call.start - lineStart + 1,
    });
  }
  return out;
}

/** Top-level comma-separated arguments, trimmed. */
function splitArgs(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let at = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      out.push(text.slice(at, i).trim());
      at = i + 1;
    }
  }
  out.push(text.slice(at).trim());
  return out;
}

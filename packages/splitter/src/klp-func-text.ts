import { decodeCString } from './c-strings.js';

/**
 * A fast path for the common shape of klp_func arrays: braced elements with
 * designated `.old_name = "literal"`, `.new_func = name`, `.old_sympos = N`
 * fields and comments. Anything else returns undefined and the caller reads
 * the array from the syntax tree. Large generated livepatches are almost
 * entirely such arrays, and walking them node by node dominates the split.
 */
interface FuncText {
  oldName: string;
  newFunc: string;
  sympos: number;
  /** Offset of the element's opening brace. */
  at: number;
}

const FIELD_RE = /\.\s*(old_name|new_func|old_sympos)\s*=\s*("(?:[^"\\\n]|\\.)*"|&?\s*[A-Za-z_]\w*|\d+[uUlL]*)\s*(?:,|(?=\}))/y;
const SKIP_RE = /(?:\s|,|\/\*(?:[^*]|\*(?!\/))*\*\/|\/\/[^\n]*)*/y;

function skip(text: string, at: number): number {
  SKIP_RE.lastIndex = at;
  SKIP_RE.exec(text);
  return SKIP_RE.lastIndex;
}

/** Reads `{ elem, elem, { } }` starting at `start` (the array's `{`); undefined when not the simple shape. */
export function readSimpleFuncArray(source: string, start: number, end: number): FuncText[] | undefined {
  if (source[start] !== '{') return undefined;
  const out: FuncText[] = [];
  let at = skip(source, start + 1);
  while (at < end && source[at] === '{') {
    const elementStart = at;
    const fields = new Map<string, string>();
    at = skip(source, at + 1);
    while (source[at] === '.') {
      FIELD_RE.lastIndex = at;
      const m = FIELD_RE.exec(source);
      if (!m || fields.has(m[1]!)) return undefined;
      fields.set(m[1]!, m[2]!);
      at = skip(source, FIELD_RE.lastIndex);
    }
    if (source[at] !== '}') return undefined;
    at = skip(source, at + 1);
    if (fields.size === 0) continue;
    const oldName = fields.get('old_name');
    const newFunc = fields.get('new_func');
    if (!oldName?.startsWith('"') || !newFunc || newFunc.startsWith('"')) return undefined;
    const decoded = decodeCString(oldName);
    if (decoded === undefined) return undefined;
    out.push({
      oldName: decoded,
      newFunc: newFunc.replace(/^&\s*/, ''),
      sympos: Number((fields.get('old_sympos') ?? '0').replace(/[uUlL]+$/, '')),
      at: elementStart,
    });
  }
  return source[at] === '}' && at === end - 1 ? out : undefined;
}

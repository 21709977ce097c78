/**
 * How deep a source nests `#if`/`#ifdef`/`#ifndef`, found in one pass over
 * the text before anything is parsed: the splitter keeps, for each item,
 * the conditionals around it, so a source nesting thousands deep would cost
 * quadratic time and recursion no stack holds. C requires compilers to take
 * 63 levels (C11 5.2.4.1); kernel sources use a handful.
 */
export const MAX_CONDITIONAL_DEPTH = 256;

/** The 1-based line of the first conditional nested deeper than `limit`, or undefined. */
export function tooDeepConditional(source: string, limit = MAX_CONDITIONAL_DEPTH): number | undefined {
  let depth = 0;
  let line = 1;
  let lineStart = true;
  let state: 'code' | 'block' | 'line' | 'string' | 'char' = 'code';
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c === '\n') {
      line++;
      // A backslash-newline continues the line (and a // comment or a directive with it).
      if (source[i - 1] !== '\\') {
        if (state === 'line') state = 'code';
        lineStart = true;
      }
      continue;
    }
    if (state === 'block') {
      if (c === '*' && source[i + 1] === '/') {
        state = 'code';
        i++;
      }
      continue;
    }
    if (state === 'line') continue;
    if (state === 'string' || state === 'char') {
      if (c === '\\') i++;
      else if (c === (state === 'string' ? '"' : "'")) state = 'code';
      continue;
    }
    if (lineStart && c === '#') {
      lineStart = false;
      const directive = /^#[ \t]*(ifdef|ifndef|if|endif)\b/.exec(source.slice(i, i + 16))?.[1];
      if (directive === 'endif') depth = Math.max(0, depth - 1);
      else if (directive && ++depth > limit) return line;
      continue;
    }
    if (c !== ' ' && c !== '\t' && c !== '\r' && c !== '\f') lineStart = false;
    if (c === '/' && source[i + 1] === '*') {
      state = 'block';
      i++;
    } else if (c === '/' && source[i + 1] === '/') state = 'line';
    else if (c === '"') state = 'string';
    else if (c === "'") state = 'char';
  }
  return undefined;
}

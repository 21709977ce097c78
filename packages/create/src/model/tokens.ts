/**
 * C tokens, as far as comparing two versions of a definition needs them:
 * comments and whitespace (and backslash-newlines) are not tokens, so a
 * fix that only touches a comment or the layout changes nothing.
 */

export interface Token {
  text: string;
  /** Byte offset in the text it was read from. */
  start: number;
  kind: 'ident' | 'number' | 'string' | 'char' | 'punct';
}

const PUNCT3 = ['<<=', '>>=', '...'];
const PUNCT2 = ['->', '++', '--', '<<', '>>', '<=', '>=', '==', '!=', '&&', '||', '*=', '/=', '%=', '+=', '-=', '&=', '^=', '|=', '##'];

export function tokenize(text: string, from = 0, to = text.length): Token[] {
  const out: Token[] = [];
  let i = from;
  while (i < to) {
    const c = text[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v') {
      i++;
    } else if (c === '\\' && (text[i + 1] === '\n' || (text[i + 1] === '\r' && text[i + 2] === '\n'))) {
      i += text[i + 1] === '\n' ? 2 : 3;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? to : end + 2;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < to && text[i] !== '\n') i++;
    } else if (/[A-Za-z_]/.test(c)) {
      let j = i + 1;
      while (j < to && /[A-Za-z0-9_]/.test(text[j]!)) j++;
      out.push({ text: text.slice(i, j), start: i, kind: 'ident' });
      i = j;
    } else if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(text[i + 1] ?? ''))) {
      let j = i + 1;
      // pp-number: digits, letters, dots, and exponent signs.
      while (j < to && (/[A-Za-z0-9_.]/.test(text[j]!) || (/[+-]/.test(text[j]!) && /[eEpP]/.test(text[j - 1]!)))) j++;
      out.push({ text: text.slice(i, j), start: i, kind: 'number' });
      i = j;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < to && text[j] !== c && text[j] !== '\n') j += text[j] === '\\' ? 2 : 1;
      j = Math.min(j + 1, to);
      out.push({ text: text.slice(i, j), start: i, kind: c === '"' ? 'string' : 'char' });
      i = j;
    } else {
      const three = text.slice(i, i + 3);
      const two = text.slice(i, i + 2);
      const p = PUNCT3.includes(three) ? three : PUNCT2.includes(two) ? two : c;
      out.push({ text: p, start: i, kind: 'punct' });
      i += p.length;
    }
  }
  return out;
}

/** The tokens of a piece of C joined by single spaces: equal for two texts that differ only in comments and layout. */
export function normalized(text: string, from = 0, to = text.length): string {
  return tokenize(text, from, to)
    .map((t) => t.text)
    .join(' ');
}

/**
 * Identifiers a piece of C uses by name: not member names (after `.` or
 * `->`), which belong to a struct, not to the file's scope.
 */
export function identifiersUsed(text: string, from = 0, to = text.length): Set<string> {
  const tokens = tokenize(text, from, to);
  const out = new Set<string>();
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k]!;
    if (t.kind !== 'ident') continue;
    const prev = tokens[k - 1]?.text;
    if (prev === '.' || prev === '->') continue;
    out.add(t.text);
  }
  return out;
}

/**
 * C string literals decoded the way the compiler does (C11 6.4.4.4, 6.4.5):
 * a name written `"klpr\x5ftarget"` is `klpr_target` in the object file,
 * and the kernel compares names byte for byte, so the splitter must too.
 */

const SIMPLE_ESCAPES: Record<string, string> = {
  n: '\n',
  t: '\t',
  r: '\r',
  a: '\x07',
  b: '\b',
  f: '\f',
  v: '\v',
  e: '\x1b',
  '\\': '\\',
  "'": "'",
  '"': '"',
  '?': '?',
};

/**
 * The bytes of one literal (`"..."` with its quotes, optionally prefixed
 * `u8`), as a latin1 string; undefined when it is not a plain narrow literal.
 */
export function decodeCString(literal: string): string | undefined {
  const m = /^(?:u8)?"([\s\S]*)"$/.exec(literal);
  if (!m) return undefined;
  const body = m[1]!;
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const next = body[++i];
    if (next === undefined) return undefined;
    if (next === '\n') continue; // a line continuation inside the literal
    if (next === 'x') {
      let j = i + 1;
      while (j < body.length && /[0-9A-Fa-f]/.test(body[j]!)) j++;
      const code = parseInt(body.slice(i + 1, j), 16);
      // Hex escapes are greedy; a value past a byte is gcc's "out of range" error.
      if (j === i + 1 || code > 0xff) return undefined;
      out += String.fromCharCode(code);
      i = j - 1;
      continue;
    }
    if (/[0-7]/.test(next)) {
      let j = i;
      while (j < body.length && j < i + 3 && /[0-7]/.test(body[j]!)) j++;
      const code = parseInt(body.slice(i, j), 8);
      if (code > 0xff) return undefined;
      out += String.fromCharCode(code);
      i = j - 1;
      continue;
    }
    const simple = SIMPLE_ESCAPES[next];
    if (simple === undefined) return undefined;
    out += simple;
  }
  return out;
}

/** Adjacent literals (`"klp" "r_target"`) concatenated; undefined when one is not a plain literal. */
export function decodeCStrings(literals: string[]): string | undefined {
  let out = '';
  for (const l of literals) {
    const s = decodeCString(l);
    if (s === undefined) return undefined;
    out += s;
  }
  return out;
}

/**
 * Preprocessor shapes inside initializers that compile but are not in the C
 * grammar tree-sitter parses: `#ifdef CONFIG_X` lines between the elements
 * of a klp_func array, and a macro call glued to a literal
 * (`__stringify(PREFIX) "sys_getpid"`). Both are rewritten for the parser
 * only, keeping every offset and newline: directive lines inside an
 * initializer become spaces (each branch's elements then parse as elements;
 * the splitter reads the conditions from the original text), and the blank
 * between `)` and `"` becomes `+`, an expression the parser accepts and the
 * splitter knows it cannot evaluate itself.
 */
export function maskInitializerPreprocessor(source: string): string {
  if (!source.includes('#') && !/\)\s+"/.test(source)) return source;
  const out = source.split('');
  const stack: boolean[] = [];
  let prevSig = '';
  let lineStart = true;
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c === '\n') {
      lineStart = true;
      continue;
    }
    if (lineStart && (c === ' ' || c === '\t')) continue;
    const atLineStart = lineStart;
    lineStart = false;
    if (c === '#' && atLineStart) {
      // A directive runs to the end of its line and its continuations.
      let end = i;
      while (end < source.length && source[end] !== '\n') end = source[end] === '\\' && source[end + 1] === '\n' ? end + 2 : end + 1;
      if (stack[stack.length - 1]) for (let j = i; j < end; j++) if (out[j] !== '\n') out[j] = ' ';
      i = end - 1;
      continue;
    }
    if (c === '/' && source[i + 1] === '*') {
      const end = source.indexOf('*/', i + 2);
      i = end < 0 ? source.length : end + 1;
      continue;
    }
    if (c === '/' && source[i + 1] === '/') {
      while (i + 1 < source.length && source[i + 1] !== '\n') i++;
      continue;
    }
    if (c === '"' || c === "'") {
      if (c === '"' && prevSig === ')' && stack[stack.length - 1] && /[ \t]/.test(source[i - 1] ?? '')) out[i - 1] = '+';
      let j = i + 1;
      while (j < source.length && source[j] !== c && source[j] !== '\n') j += source[j] === '\\' ? 2 : 1;
      i = j;
      prevSig = c;
      continue;
    }
    if (c === '{') {
      const inInit = stack[stack.length - 1] ?? false;
      stack.push(prevSig === '=' || (inInit && (prevSig === ',' || prevSig === '{')));
    } else if (c === '}') {
      stack.pop();
    }
    if (!/\s/.test(c)) prevSig = c;
  }
  return out.join('');
}

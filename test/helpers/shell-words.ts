/**
 * A command line as a POSIX shell reads it, for tests that check what Nx
 * will hand to `sh -c`: the words, when the line is nothing but words
 * (blanks between them, single quotes, double quotes without expansions,
 * backslash escapes); otherwise the first character that makes the shell
 * do more than split words (an operator, an expansion, a glob, a comment,
 * a tilde), with its offset. A line that lexes to words runs one command
 * with exactly those arguments.
 */
export type ShellLex = { words: string[] } | { unsafe: string; at: number };

/** Unquoted, these make the shell do something other than take the character. */
const OPERATOR = new Set([';', '&', '|', '<', '>', '(', ')', '$', '`', '*', '?', '[', '{', '\n', '\r']);
/** Special only at the start of a word. */
const WORD_START = new Set(['#', '~']);

export function shellWords(line: string): ShellLex {
  const words: string[] = [];
  let word: string | undefined;
  let i = 0;
  const bad = (at: number): ShellLex => ({ unsafe: line[at]!, at });
  while (i < line.length) {
    const c = line[i]!;
    if (c === ' ' || c === '\t') {
      if (word !== undefined) words.push(word);
      word = undefined;
      i++;
      continue;
    }
    if (word === undefined && WORD_START.has(c)) return bad(i);
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) return bad(i);
      word = (word ?? '') + line.slice(i + 1, end);
      i = end + 1;
      continue;
    }
    if (c === '"') {
      let text = '';
      let j = i + 1;
      for (; j < line.length && line[j] !== '"'; j++) {
        const d = line[j]!;
        if (d === '$' || d === '`') return bad(j);
        if (d === '\\' && j + 1 < line.length && '$`"\\\n'.includes(line[j + 1]!)) {
          if (line[j + 1] !== '\n') text += line[j + 1];
          j++;
          continue;
        }
        text += d;
      }
      if (j >= line.length) return bad(i);
      word = (word ?? '') + text;
      i = j + 1;
      continue;
    }
    if (c === '\\') {
      if (i + 1 >= line.length) return bad(i);
      // A backslash-newline is a line continuation: it joins, it adds nothing.
      if (line[i + 1] !== '\n') word = (word ?? '') + line[i + 1];
      i += 2;
      continue;
    }
    if (OPERATOR.has(c)) return bad(i);
    word = (word ?? '') + c;
    i++;
  }
  if (word !== undefined) words.push(word);
  return { words };
}

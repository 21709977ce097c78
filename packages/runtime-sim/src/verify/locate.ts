import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The 1-based line and column of `needle` in a source file: its first use
 * that is not a declaration (`int f(void);`), else its first occurrence.
 */
export function locateInSource(dir: string, file: string, needle: string): { line: number; col: number } | undefined {
  const path = join(dir, file);
  if (!existsSync(path)) return undefined;
  // Comments blanked (same length) so a mention in prose is never the location.
  const text = readFileSync(path, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, (m) => m.replace(/[^\n]/g, ' '));
  let at = text.indexOf(needle);
  if (at < 0) return undefined;
  for (let i = at; i >= 0; i = text.indexOf(needle, i + 1)) {
    const lineStart = text.lastIndexOf('\n', i - 1) + 1;
    const lineEnd = text.indexOf('\n', i);
    const line = text.slice(lineStart, lineEnd < 0 ? text.length : lineEnd);
    if (!/^\s*(?:extern\s+)?[A-Za-z_][\w\s*]*\([^)]*\)\s*;\s*$/.test(line) && !/^\s*(?:DECLARE|DEFINE)_/.test(line)) {
      at = i;
      break;
    }
  }
  const before = text.slice(0, at);
  const line = before.split('\n').length;
  return { line, col: at - before.lastIndexOf('\n') };
}

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The 1-based line and column of the first occurrence of `needle` in a source file. */
export function locateInSource(dir: string, file: string, needle: string): { line: number; col: number } | undefined {
  const path = join(dir, file);
  if (!existsSync(path)) return undefined;
  const text = readFileSync(path, 'utf8');
  const at = text.indexOf(needle);
  if (at < 0) return undefined;
  const before = text.slice(0, at);
  const line = before.split('\n').length;
  return { line, col: at - before.lastIndexOf('\n') };
}

import { isAbsolute, relative } from 'node:path';
import type { Diagnostic, Severity } from '@klp-split/core';

const GCC_RE = /^(\S[^:]*):(\d+):(\d+): (warning|error|fatal error|note): (.*)$/;
const MODPOST_RE = /^(ERROR|WARNING): modpost: (.*)$/;
const MODPOST_FILE_RE = /\[([^\]]+\.ko)\]/;

/**
 * Compiler and modpost messages from a kbuild run, as diagnostics whose
 * paths are relative to the module directory (the split sources).
 */
export function parseBuildOutput(output: string, moduleDir: string): Diagnostic[] {
  const out: Diagnostic[] = [];
  const rel = (p: string): string => (isAbsolute(p) && p.startsWith(moduleDir) ? relative(moduleDir, p) : p);
  for (const line of output.split('\n')) {
    const gcc = GCC_RE.exec(line);
    if (gcc) {
      const severity: Severity = gcc[4] === 'note' ? 'note' : gcc[4] === 'warning' ? 'warning' : 'error';
      const flag = /\[(-W[^\]]+)\]$/.exec(gcc[5]!);
      const message = flag ? gcc[5]!.slice(0, -flag[0].length).trim() : gcc[5]!;
      out.push({ file: rel(gcc[1]!), line: Number(gcc[2]), col: Number(gcc[3]), severity, message, code: flag ? flag[1]! : `cc-${severity}` });
      continue;
    }
    const modpost = MODPOST_RE.exec(line);
    if (modpost) {
      const file = MODPOST_FILE_RE.exec(modpost[2]!)?.[1];
      out.push({
        file: file ? rel(file) : moduleDir,
        line: 0,
        col: 0,
        severity: modpost[1] === 'ERROR' ? 'error' : 'warning',
        message: modpost[2]!,
        code: 'modpost',
      });
    }
  }
  return out;
}

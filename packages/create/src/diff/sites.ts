import type { Diagnostic, Severity } from '@klp-split/core';
import type { Definition } from '../model/kernel-file.js';
import type { PatchedFile } from '../patch/patch-set.js';

/**
 * Where a finding about a definition is reported: the first line of it the
 * fix wrote (else its first line), in the patched source file as the
 * kernel tree names it, with the patch file's line in the message, so a
 * kernel developer finds it in either.
 */
export function siteOf(file: PatchedFile, def: Definition | undefined, version: 'after' | 'before' = 'after'): { file: string; line: number; col: number; patch?: string } {
  if (!def) return { file: file.path, line: 0, col: 0 };
  if (version === 'before') return { file: file.path, line: def.line, col: def.col };
  let line = def.line;
  let col = def.col;
  for (let l = def.line; l <= def.endLine; l++) {
    if (file.origin[l - 1]?.added) {
      line = l;
      const text = (file.after ?? '').split('\n')[l - 1] ?? '';
      col = l === def.line ? def.col : text.length - text.trimStart().length + 1;
      break;
    }
  }
  const o = file.origin[line - 1] ?? file.origin.slice(def.line - 1, def.endLine).find(Boolean);
  return { file: file.path, line, col, patch: o ? `${o.file}:${o.line}` : undefined };
}

/** A diagnostic at a definition of a patched file. */
export function diagnosticAt(file: PatchedFile, def: Definition | undefined, severity: Severity, code: string, message: string, version: 'after' | 'before' = 'after'): Diagnostic {
  const s = siteOf(file, def, version);
  return { file: s.file, line: s.line, col: s.col, severity, code, message: s.patch ? `${message} (${s.patch})` : message };
}

import { existsSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { confinePath, KlpError, readSourceText } from '@klp-split/core';
import type { Diagnostic } from '@klp-split/core';

/**
 * The livepatch's own headers (`#include "fix.h"`), copied beside the split
 * so every part compiles where it is written, as the original did beside its
 * source. Each is confined to the source's directory (the trust boundary),
 * and the headers they include are copied too. A name found only in a
 * directory the livepatch's Kbuild adds with -I is left to the compiler
 * (the parts keep that -I); one found nowhere cannot be copied: a warning
 * says so.
 */
export interface LocalHeaders {
  /** Name relative to the source directory (as written in the output) to its text (latin1, byte for byte). */
  files: Map<string, string>;
  diagnostics: Diagnostic[];
}

/** None: a split written where the headers already are (convert). */
export const NO_HEADERS: LocalHeaders = { files: new Map(), diagnostics: [] };

const QUOTED_INCLUDE = /^[ \t]*#[ \t]*include[ \t]*"([^"\n]+)"/gm;

/** `#include "..."` lines of a text, outside block comments, with their 1-based line and the name's column. */
function quotedIncludes(text: string): { name: string; line: number; col: number }[] {
  const out: { name: string; line: number; col: number }[] = [];
  const code = text.replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, ' '));
  for (const m of code.matchAll(QUOTED_INCLUDE)) {
    const before = text.slice(0, m.index);
    const line = (before.match(/\n/g) ?? []).length + 1;
    out.push({ name: m[1]!, line, col: m[0].indexOf('"') + 2 });
  }
  return out;
}

/**
 * The local headers `sources` include, directly or through each other. `.c`
 * files a source includes are followed (a wrapper's livepatch) but not
 * copied: the split writes them itself.
 */
export function localHeaders(dir: string, sources: { file: string; text: string }[], includeDirs: readonly string[] = []): LocalHeaders {
  const files = new Map<string, string>();
  const diagnostics: Diagnostic[] = [];
  const seen = new Set<string>();
  const base = resolve(dir);
  const visit = (file: string, fromDir: string, text: string): void => {
    for (const inc of quotedIncludes(text)) {
      const where = { file, line: inc.line, col: inc.col };
      // Not beside the source but in a directory the livepatch's Kbuild adds with -I (a fix's own kernel
      // directory, `klp-split create`): the parts are built with the same -I, so the compiler finds it there.
      if (!existsSync(resolve(fromDir, inc.name)) && includeDirs.some((d) => existsSync(resolve(d, inc.name)))) continue;
      let full: string;
      try {
        full = confinePath(dir, relative(base, resolve(fromDir, inc.name)) || '.', { what: `the local header '${inc.name}'`, ...where });
      } catch (e) {
        if (!(e instanceof KlpError)) throw e;
        diagnostics.push({ ...where, severity: 'error', code: e.code, message: `${e.message}; klp-split copies a livepatch's own headers beside its split, so they must be in its directory` });
        continue;
      }
      const name = relative(base, full).split(sep).join('/');
      if (name === '' || name.startsWith('../') || isAbsolute(name)) continue;
      if (seen.has(name)) continue;
      seen.add(name);
      if (!existsSync(full)) {
        diagnostics.push({ ...where, severity: 'warning', code: 'local-header-not-found', message: `'${inc.name}' is not in ${dir}: not copied beside the split, whose parts then find it only where the build's include path has it` });
        continue;
      }
      let content: string;
      try {
        content = readSourceText(full, { what: `the local header '${inc.name}'` });
      } catch (e) {
        if (!(e instanceof KlpError)) throw e;
        diagnostics.push({ ...where, severity: 'error', code: e.code, message: e.message });
        continue;
      }
      if (!name.endsWith('.c')) files.set(name, content);
      visit(name, resolve(full, '..'), content);
    }
  };
  for (const s of sources) visit(s.file, base, s.text);
  return { files, diagnostics };
}

/**
 * The name of the split's shared header: `<base>.h`, unless the livepatch has
 * a file of that name (in its directory or among its headers), which is
 * copied, never replaced; then `<base>-shared.h` (or the first free
 * `<base>-shared-<n>.h`).
 */
export function sharedHeaderName(dir: string, base: string, taken: Iterable<string>): string {
  const names = new Set(taken);
  const free = (n: string): boolean => !names.has(n) && !existsSync(join(dir, n));
  if (free(`${base}.h`)) return `${base}.h`;
  if (free(`${base}-shared.h`)) return `${base}-shared.h`;
  for (let i = 2; ; i++) if (free(`${base}-shared-${i}.h`)) return `${base}-shared-${i}.h`;
}

import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { formatDiagnostic, type Diagnostic, kbuildModuleName, decodeLines, encodeLines, type LineOrigin, buildManifest, MANIFEST_FILE, manifestText } from '@klp-split/core';
import { readUnit } from './items.js';
import { splitFile, splitSource, withLocalHeaders, type SplitOptions, type SplitResult } from './split.js';
import { localHeaders, NO_HEADERS, sharedHeaderName } from './local-headers.js';
import type { UnitFiles } from './emit.js';

/**
 * A livepatch module built from several files (`fix-y := fix_main.o
 * fix_funcs.o`): the klp_patch in one file, replacement functions in
 * another. The files are read as one unit, in the order kbuild links them,
 * so the closures cross files; every finding is mapped back to its file and
 * line. Each later file's opening comment and #includes the unit already
 * has are left out of the unit (they would repeat in every part).
 */

/** Composite modules of a directory's Kbuild or Makefile: module name to its .c sources, in link order. */
export function compositeModules(dir: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const name of ['Kbuild', 'Makefile']) {
    const path = join(dir, name);
    if (!existsSync(path)) continue;
    const text = readFileSync(path, 'latin1').replace(/\\\n/g, ' ');
    for (const line of text.split('\n')) {
      const m = /^\s*([A-Za-z0-9_.-]+?)-(?:y|objs|m|\$\(CONFIG_[A-Za-z0-9_]+\))\s*(?:\+=|:=|=)\s*([^#]*)/.exec(line);
      if (!m || NOT_MODULES.has(m[1]!)) continue;
      const objs = m[2]!.split(/\s+/).filter((o) => o.endsWith('.o')).map((o) => o.replace(/\.o$/, '.c'));
      if (!objs.length) continue;
      out.set(m[1]!, [...(out.get(m[1]!) ?? []), ...objs]);
    }
    break;
  }
  for (const [m, files] of out) if (files.length === 1 && files[0] === `${m}.c`) out.delete(m);
  return out;
}

const NOT_MODULES = new Set(['obj', 'lib', 'ccflags', 'asflags', 'ldflags', 'subdir-ccflags', 'subdir', 'always', 'extra', 'targets', 'hostprogs', 'userprogs', 'clean-files', 'ccflags-remove', 'CFLAGS', 'AFLAGS']);

/**
 * The kernel source directories a livepatch's Kbuild (or Makefile) adds
 * with `ccflags-y += -I<absolute dir>` for its local headers (what
 * `klp-split create` writes): the split's parts are built with them too.
 */
export function localHeaderDirs(dir: string): string[] {
  for (const name of ['Kbuild', 'Makefile']) {
    const path = join(dir, name);
    if (!existsSync(path)) continue;
    const text = readFileSync(path, 'latin1').replace(/\\\n/g, ' ');
    const out: string[] = [];
    for (const m of text.matchAll(/^\s*ccflags-y\s*(?:\+=|:=|=)\s*(.*)$/gm)) {
      for (const flag of m[1]!.split(/\s+/)) if (/^-I\/[A-Za-z0-9._+/-]+$/.test(flag)) out.push(flag.slice(2));
    }
    return out;
  }
  return [];
}

/** The composite module a source file belongs to, per the Makefile next to it. */
function compositeOf(path: string): { module: string; sources: string[] } | undefined {
  const file = basename(path);
  for (const [module, sources] of compositeModules(dirname(path))) if (sources.includes(file)) return { module, sources: sources.map((s) => join(dirname(path), s)) };
  return undefined;
}

interface FileLine {
  file: string;
  line: number;
}

/** Splits the livepatch module `module` built from `paths` (link order). */
export function splitModule(module: string, paths: string[], opts: SplitOptions = {}): SplitResult {
  const dir = dirname(paths[0]!);
  const names = paths.map((p) => basename(p));
  const lines: string[] = [];
  const origin: FileLine[] = [];
  const includes = new Set<string>();
  const defined = new Map<string, string>();
  const clashes: Diagnostic[] = [];
  const headers: string[] = [];
  const ownIncludes: Set<string>[] = [];
  const texts = paths.map((p) => readFileSync(p, 'latin1'));
  for (const [i, text] of texts.entries()) {
    const unit = readUnit(text);
    headers.push(unit.header);
    ownIncludes.push(new Set(text.split('\n').filter((l) => /^#include\s*[<"]/.test(l)).map((l) => l.trim())));
    for (const item of unit.items) {
      if (item.kind !== 'function' && item.kind !== 'variable') continue;
      for (const n of item.defines) {
        const first = defined.get(n);
        if (first && first !== names[i]) {
          clashes.push({ file: names[i]!, line: item.pos.line, col: item.pos.col, severity: 'error', code: 'multi-file-name-clash', message: `'${n}' is defined in '${first}' too; the split reads the module's files as one unit, where two definitions of a name cannot be told apart` });
        }
        defined.set(n, names[i]!);
      }
    }
    const skipTo = i === 0 ? 0 : unit.header.split('\n').length - 1;
    text.split('\n').forEach((line, n) => {
      if (n === text.split('\n').length - 1 && line === '') return;
      if (n < skipTo) return;
      const inc = /^#include\s*[<"][^>"]+[>"]\s*$/.test(line) ? line.trim() : undefined;
      if (inc && includes.has(inc)) return;
      if (inc) includes.add(inc);
      lines.push(line);
      origin.push({ file: names[i]!, line: n + 1 });
    });
    if (i < paths.length - 1) {
      lines.push('');
      origin.push({ file: names[i]!, line: text.split('\n').length });
    }
  }
  const fail = (diagnostics: Diagnostic[]): SplitResult => ({ kind: 'invalid', source: paths[0]!, files: new Map(), diagnostics });
  if (clashes.length) return fail(clashes);

  const combined = `${lines.join('\n')}\n`;
  const local = opts.inPlace || opts.copyLocalHeaders === false ? NO_HEADERS : localHeaders(dir, texts.map((text, i) => ({ file: names[i]!, text })), opts.localHeaderDirs);
  // The livepatch's own `<module>.h` keeps its name; the split's shared header takes another.
  const headerFile = sharedHeaderName(dir, module, local.files.keys());
  const originals: UnitFiles = {
    bases: names.map((n) => n.replace(/\.c$/, '')),
    fileOfLine: (line) => Math.max(0, names.indexOf(origin[line - 1]?.file ?? names[0]!)),
    headers,
    includes: ownIncludes,
    mainInPlace: opts.inPlace ?? false,
  };
  const result = splitSource(join(dir, `${module}.c`), combined, { ...opts, displayName: `${module}.c`, headerFile, originals });
  const diagnostics = result.diagnostics.map((d) => {
    const o = d.line > 0 ? origin[d.line - 1] : undefined;
    return o ? { ...d, file: o.file, line: o.line } : { ...d, file: names[0]! };
  });
  if (result.kind !== 'split' || !result.manifest) return { ...result, source: paths[0]!, diagnostics };

  const files = new Map(result.files);
  const sourceMap = result.manifest.sourceMap && {
    sources: paths.map((p) => relative(opts.sourceRelativeTo ?? dir, resolve(p))),
    files: Object.fromEntries(
      Object.entries(result.manifest.sourceMap.files).map(([f, segs]) => {
        const lines: (LineOrigin | undefined)[] = [];
        for (const [gen, o] of decodeLines(segs)) {
          const at = origin[o.line - 1];
          lines[gen - 1] = at ? { source: names.indexOf(at.file), line: at.line, exact: o.exact } : undefined;
        }
        return [f, encodeLines(lines)];
      }),
    ),
  };
  // Through the one builder: the composite's manifest passes the same check and has the same key order.
  const manifest = buildManifest({
    ...result.manifest,
    source: names[0]!,
    sources: names,
    sourceMap,
    warnings: diagnostics.filter((d) => d.severity !== 'note').map(formatDiagnostic),
  });
  files.set(MANIFEST_FILE, manifestText(manifest));
  return withLocalHeaders({ kind: 'split', source: paths[0]!, files, manifest, diagnostics }, local);
}

/** The module name of several files given together: their composite, else the first file's. */
function moduleOfFiles(paths: string[]): string {
  const composite = compositeOf(paths[0]!);
  if (composite && paths.every((p) => composite.sources.includes(join(dirname(paths[0]!), basename(p))))) return kbuildModuleName(composite.module);
  return kbuildModuleName(basename(paths[0]!).replace(/\.c$/, ''));
}

/**
 * The entry point for sources as a user names them: one file (split as the
 * composite module it belongs to, if its Makefile says so) or several files
 * of one module.
 */
export function splitLivepatch(paths: string[], optsIn: SplitOptions = {}): SplitResult {
  const opts = optsIn.localHeaderDirs ? optsIn : { ...optsIn, localHeaderDirs: localHeaderDirs(dirname(paths[0]!)) };
  if (paths.length > 1) return splitModule(moduleOfFiles(paths), paths, opts);
  const composite = compositeOf(paths[0]!);
  if (composite) return splitModule(composite.module, composite.sources, opts);
  return splitFile(paths[0]!, opts);
}

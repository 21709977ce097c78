import { readFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { DiagnosticSink, formatDiagnostic, type Diagnostic } from './diagnostics.js';
import { emitSplit } from './emit.js';
import { IncludeFilter } from './include-filter.js';
import { readUnit } from './items.js';
import { findLivepatch, type LivepatchModel } from './livepatch-model.js';
import { MANIFEST_FILE, MANIFEST_VERSION, manifestText, type SplitManifest } from './manifest.js';
import { kbuildModuleName, objectNameProblem, patchNameProblem } from './names.js';
import { reportSyntaxErrors } from './parse.js';
import { planSplit, type SplitPlan } from './plan.js';
import { encodeLines } from './source-map.js';
import { TOOL_NAME, TOOL_VERSION } from './version.js';

export type SplitKind = 'split' | 'not-livepatch' | 'already-split' | 'invalid';

export interface SplitResult {
  kind: SplitKind;
  /** Source file as given. */
  source: string;
  /** Output files (relative names, manifest included) to content; empty unless kind is 'split'. */
  files: Map<string, string>;
  manifest?: SplitManifest;
  diagnostics: Diagnostic[];
}

export interface SplitOptions {
  /** File name used in diagnostics; defaults to the path. */
  displayName?: string;
  /** The kernel's include directories: each part then keeps only the #includes it uses. */
  includeDirs?: string[];
  /**
   * The compiler's preprocessed text of a source (kbuild's `<file>.i`), for
   * names built by macros and `#if` inside klp_func arrays.
   */
  preprocess?: (path: string, source: string) => string | undefined;
  /** The shared header's name when `<patch>.h` is taken (a header of the livepatch's own). */
  headerFile?: string;
  /** The output directory: the manifest's source map names the original relative to it (no map without it). */
  sourceRelativeTo?: string;
}

/** Splits one livepatch source held in memory. */
export function splitSource(path: string, source: string, opts: SplitOptions = {}): SplitResult {
  const file = opts.displayName ?? path;
  const sink = new DiagnosticSink(file);
  const fileBase = basename(path).replace(/\.c$/, '');
  const result = (kind: SplitKind): SplitResult => ({ kind, source: path, files: new Map(), diagnostics: sink.items });

  const unit = readUnit(source);
  if (reportSyntaxErrors(unit.tree, sink) > 0) return result('invalid');
  const preprocess = opts.preprocess;
  const found = findLivepatch(unit, sink, preprocess ? () => preprocess(path, source) : undefined);
  if (found.kind === 'not-livepatch') {
    sink.note(undefined, 'not-livepatch', 'no struct klp_patch here: not a livepatch, nothing to split');
    return result('not-livepatch');
  }
  if (found.kind === 'already-split') {
    sink.note(undefined, 'already-split', 'already uses the split livepatch API (klp_add_object or klp_patch.obj); nothing to do');
    return result('already-split');
  }
  if (found.kind === 'invalid') return result('invalid');

  const patch = kbuildModuleName(fileBase);
  const patchProblem = patchNameProblem(patch);
  if (patchProblem) sink.error(undefined, patchProblem.code, patchProblem.message);
  for (const obj of found.model.objects) {
    if (obj.name === null) continue;
    const problem = objectNameProblem(patch, obj.name);
    if (problem) sink.error(obj.pos, problem.code, problem.message);
  }
  if (sink.failed) return result('invalid');

  const plan = planSplit(unit, found.model, fileBase, sink, opts.includeDirs?.length ? new IncludeFilter(opts.includeDirs) : undefined, opts.headerFile);
  const emitted = emitSplit(unit, found.model, plan);
  const manifest = buildManifest(basename(path), found.model, plan, sink.items);
  // Only with the output directory known can the map name the original: by its base name it
  // would be the generated main file (same name) and point findings at the wrong text.
  if (opts.sourceRelativeTo) {
    const original = relative(opts.sourceRelativeTo, resolve(path));
    manifest.sourceMap = { sources: [original], files: Object.fromEntries([...emitted.maps].map(([f, m]) => [f, encodeLines(m.map((o) => (o ? { source: 0, ...o } : undefined)))])) };
  }
  emitted.files.set(MANIFEST_FILE, manifestText(manifest));
  return { kind: 'split', source: path, files: emitted.files, manifest, diagnostics: sink.items };
}

/**
 * Splits a livepatch file. A file that only includes another livepatch's .c
 * (as test_klp_state3.c includes test_klp_state2.c) is a second module built
 * from the same source: it stays as it is and includes the split of the other.
 */
export function splitFile(path: string, opts: SplitOptions = {}): SplitResult {
  const source = readFileSync(path, 'utf8');
  const result = splitSource(path, source, opts);
  if (result.kind !== 'not-livepatch') return result;
  const included = /^#include\s+"([^"]+\.c)"\s*$/m.exec(source)?.[1];
  if (!included) return result;
  return splitWrapper(path, source, join(dirname(path), included), included, opts);
}

function splitWrapper(path: string, source: string, includedPath: string, included: string, opts: SplitOptions): SplitResult {
  const file = opts.displayName ?? path;
  const sink = new DiagnosticSink(file);
  const fail = (): SplitResult => ({ kind: 'invalid', source: path, files: new Map(), diagnostics: sink.items });
  let inner: SplitResult;
  try {
    inner = splitFile(includedPath, { ...opts, displayName: join(dirname(file), included) });
  } catch (e) {
    sink.error(undefined, 'include-unreadable', `cannot read the included livepatch '${included}': ${(e as Error).message}`);
    return fail();
  }
  if (inner.kind !== 'split' || !inner.manifest) {
    return { ...inner, source: path, diagnostics: [...inner.diagnostics] };
  }
  if (inner.manifest.parts.length > 1) {
    sink.error(undefined, 'included-livepatch-with-objects', `'${included}' patches modules; a livepatch that includes it would need its own per-object sources, which klp-split does not derive from an #include`);
    return fail();
  }
  const fileBase = basename(path).replace(/\.c$/, '');
  const patch = kbuildModuleName(fileBase);
  sink.note(undefined, 'includes-livepatch', `builds the split of '${included}' under its own name '${patch}'; split '${included}' into the same directory`);
  const vmlinux = inner.manifest.parts[0]!;
  const manifest: SplitManifest = {
    ...inner.manifest,
    patch,
    source: basename(path),
    includes: [included],
    parts: [{ ...vmlinux, module: patch, file: basename(path) }],
    warnings: sink.items.map(formatDiagnostic),
  };
  const files = new Map([
    [basename(path), source],
    [included, inner.files.get(inner.manifest.parts[0]!.file)!],
    [MANIFEST_FILE, manifestText(manifest)],
  ]);
  return { kind: 'split', source: path, files, manifest, diagnostics: sink.items };
}

function buildManifest(source: string, model: LivepatchModel, plan: SplitPlan, diags: Diagnostic[]): SplitManifest {
  const part = (p: SplitPlan['main']) => ({
    object: p.object,
    module: p.module,
    file: `${p.fileBase}.c`,
    funcs: (p.entry?.funcs ?? []).map((f) => ({
      oldName: f.oldName,
      newFunc: plan.exportNames.name(f.newFunc),
      sympos: f.sympos,
      ...(f.condition ? { condition: f.condition } : {}),
      ...(f.evaluated ? { nameFrom: 'compiler' as const } : {}),
    })),
    callbacks: (p.entry?.callbacks ?? []).map((c) => ({ ...c, func: plan.exportNames.name(c.func) })),
  });
  const manifest: SplitManifest = {
    manifestVersion: MANIFEST_VERSION,
    generator: `${TOOL_NAME} ${TOOL_VERSION}`,
    patch: plan.patch,
    source,
    objNames: plan.objects.map((p) => p.object),
    exports: plan.exported.map((i) => plan.exportNames.name(i.defines[0]!)),
    parts: [part(plan.main), ...plan.objects.map(part)],
    warnings: diags.filter((d) => d.severity !== 'note').map((d) => formatDiagnostic({ ...d, file: basename(d.file) })),
  };
  if (plan.header.length) manifest.header = plan.headerFile;
  if (model.replace !== undefined) manifest.replace = model.replace;
  if (model.states !== undefined) manifest.states = model.states;
  return manifest;
}

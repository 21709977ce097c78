import { realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { confinePath, KlpError, readSourceText, type ManifestSourceMap, DiagnosticSink, formatDiagnostic, type Diagnostic, buildManifest, isSymbolName, kbuildModuleName, MANIFEST_FILE, manifestText, objectNameProblem, patchNameProblem, type SplitManifest, encodeLines, TOOL_NAME, TOOL_VERSION } from '@klp-split/core';
import { MAX_CONDITIONAL_DEPTH, tooDeepConditional } from './conditional-depth.js';
import { emitSplit, hasLivepatchModinfo, type PartFiles, type UnitFiles } from './emit.js';
import { IncludeFilter } from './include-filter.js';
import { localHeaders, NO_HEADERS, sharedHeaderName, type LocalHeaders } from './local-headers.js';
import { readUnit } from './items.js';
import { findLivepatch, type LivepatchModel } from './livepatch-model.js';
import type { SourceUnit } from './items.js';
import { toCrlf, toLf, usesCrlf } from './line-endings.js';
import { patchFields } from './patch-fields.js';
import { reportSyntaxErrors } from './parse.js';
import { reportRuntimePatch } from './runtime-patch.js';
import { planSplit, type SplitPlan } from './plan.js';
import type { SymbolFacts } from '@klp-split/core';

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
  /** The originals of a unit read from several files: a part drawing on several is written as several (multi-file.ts). */
  originals?: UnitFiles;
  /** convert: the main part of a module built from several files keeps the originals' names. */
  inPlace?: boolean;
  /**
   * Copy the livepatch's own headers beside the split (default). convert
   * writes the split where the headers already are, and turns it off.
   */
  copyLocalHeaders?: boolean;
  /** Which object each symbol the livepatch uses is in (kernel and target symbols): placement by object. */
  facts?: SymbolFacts;
  /** Kernel source directories the livepatch's local headers are in (the `-I` of its Kbuild's ccflags-y): kept for the parts' build. */
  localHeaderDirs?: string[];
}

/** Splits one livepatch source held in memory (a latin1 string for byte-exact output: readSourceText). */
export function splitSource(path: string, source: string, opts: SplitOptions = {}): SplitResult {
  if (!usesCrlf(source)) return splitLfSource(path, source, opts);
  const result = splitLfSource(path, toLf(source), opts);
  for (const [name, text] of result.files) if (name !== MANIFEST_FILE) result.files.set(name, toCrlf(text));
  return result;
}

function splitLfSource(path: string, source: string, opts: SplitOptions): SplitResult {
  const file = opts.displayName ?? path;
  const sink = new DiagnosticSink(file);
  const fileBase = basename(path).replace(/\.c$/, '');
  const result = (kind: SplitKind): SplitResult => ({ kind, source: path, files: new Map(), diagnostics: sink.items });

  const deep = tooDeepConditional(source);
  if (deep !== undefined) {
    throw new KlpError(`conditionals nest more than ${MAX_CONDITIONAL_DEPTH} deep here; klp-split does not split such a source`, { code: 'conditionals-too-deep', file, line: deep, col: 1 });
  }
  const unit = readUnit(source);
  if (reportSyntaxErrors(unit.tree, sink) > 0) return result('invalid');
  const preprocess = opts.preprocess;
  const found = findLivepatch(unit, sink, preprocess ? () => preprocess(path, source) : undefined);
  if (found.kind === 'not-livepatch') {
    if (!wrapperInclude(source) && reportRuntimePatch(unit, sink)) return result('invalid');
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
  for (const obj of found.model.objects) {
    for (const f of obj.funcs) {
      // kallsyms holds no such name: the kernel would refuse the patch at load time.
      if (!isSymbolName(f.oldName)) sink.error(f.pos, 'invalid-old-name', `klp_func .old_name "${f.oldName}" is not a symbol name`);
    }
  }
  if (sink.failed) return result('invalid');

  if (!hasLivepatchModinfo(unit)) {
    const license = unit.items.find((i) => i.kind === 'call' && i.call!.name === 'MODULE_LICENSE');
    sink.warning((license ?? found.model.patchItem).pos, 'missing-livepatch-modinfo', 'no MODULE_INFO(livepatch, "Y"): the kernel refuses to enable a patch whose module does not carry it; every part of the split carries it');
  }
  const plan = planSplit(unit, found.model, fileBase, sink, opts.includeDirs?.length ? new IncludeFilter(opts.includeDirs) : undefined, opts.headerFile, opts.facts);
  if (sink.failed) return result('invalid');
  const emitted = emitSplit(unit, found.model, plan, opts.originals);
  // Only with the output directory known can the map name the original: by its base name it
  // would be the generated main file (same name) and point findings at the wrong text.
  const sourceMap: ManifestSourceMap | undefined = opts.sourceRelativeTo
    ? { sources: [relative(opts.sourceRelativeTo, resolve(path))], files: Object.fromEntries([...emitted.maps].map(([f, m]) => [f, encodeLines(m.map((o) => (o ? { source: 0, ...o } : undefined)))])) }
    : undefined;
  const manifest = splitManifest(unit, basename(path), found.model, plan, emitted.partFiles, sink.items, sourceMap, opts.localHeaderDirs);
  emitted.files.set(MANIFEST_FILE, manifestText(manifest));
  return { kind: 'split', source: path, files: emitted.files, manifest, diagnostics: sink.items };
}

/**
 * Splits a livepatch file. A file that only includes another livepatch's .c
 * (as test_klp_state3.c includes test_klp_state2.c) is a second module built
 * from the same source: it stays as it is and includes the split of the other.
 */
export function splitFile(path: string, opts: SplitOptions = {}): SplitResult {
  // latin1: one character per byte, so bytes that are not UTF-8 survive and columns count bytes.
  const source = readSourceText(path);
  const local = opts.copyLocalHeaders === false ? NO_HEADERS : localHeaders(dirname(path), [{ file: opts.displayName ?? path, text: source }], opts.localHeaderDirs);
  const headerFile = opts.headerFile ?? sharedHeaderName(dirname(path), basename(path).replace(/\.c$/, ''), local.files.keys());
  let result = splitSource(path, source, { ...opts, headerFile });
  if (result.kind === 'not-livepatch') {
    const include = wrapperInclude(source);
    if (include) result = splitWrapper(path, source, include, opts, []);
  }
  return withLocalHeaders(result, local);
}

/**
 * The split with the livepatch's own headers beside it (local-headers.ts),
 * listed in the manifest's `includes`; a header the split would have to
 * overwrite with a generated file, or one it cannot copy, stops it.
 */
export function withLocalHeaders(result: SplitResult, local: LocalHeaders): SplitResult {
  const diagnostics = [...result.diagnostics, ...local.diagnostics];
  if (result.kind !== 'split' || !result.manifest) return { ...result, diagnostics };
  for (const name of local.files.keys()) {
    if (!result.files.has(name)) continue;
    diagnostics.push({ file: name, line: 0, col: 0, severity: 'error', code: 'header-name-clash', message: `the split would write its own '${name}' over the livepatch's header of that name` });
  }
  if (diagnostics.some((d) => d.severity === 'error')) return { kind: 'invalid', source: result.source, files: new Map(), diagnostics };
  if (!local.files.size && !local.diagnostics.length) return result;
  const files = new Map(result.files);
  for (const [name, text] of local.files) files.set(name, text);
  const manifest = buildManifest({
    ...result.manifest,
    includes: [...(result.manifest.includes ?? []), ...local.files.keys()],
    warnings: [...(result.manifest.warnings ?? []), ...local.diagnostics.filter((d) => d.severity !== 'note').map((d) => formatDiagnostic({ ...d, file: basename(d.file) }))],
  });
  files.set(MANIFEST_FILE, manifestText(manifest));
  return { ...result, files, manifest, diagnostics };
}

/** The `#include "<other>.c"` of a wrapper, with the position of the quoted name. */
interface WrapperInclude {
  name: string;
  pos: { line: number; col: number };
}

function wrapperInclude(source: string): WrapperInclude | undefined {
  const m = /^#include\s+"([^"\n]+\.c)"[ \t\r]*$/m.exec(source);
  if (!m) return undefined;
  const before = source.slice(0, m.index);
  const line = before.split('\n').length;
  return { name: m[1]!, pos: { line, col: m[0].indexOf('"') + 2 } };
}

/** Real paths of the wrappers being split, outermost first: a cycle of #includes ends in a diagnostic, not a stack overflow. */
type IncludeStack = string[];

/** The errno of a failed read (readSourceText wraps Node's error as the KlpError's cause). */
function errnoOf(e: unknown): string {
  const err = e as { code?: string; cause?: { code?: string }; message?: string };
  return err.cause?.code ?? (err.code && /^E[A-Z]+$/.test(err.code) ? err.code : undefined) ?? err.message ?? String(e);
}

function realOrSelf(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path);
  }
}

function splitWrapper(path: string, source: string, include: WrapperInclude, opts: SplitOptions, stack: IncludeStack): SplitResult {
  const file = opts.displayName ?? path;
  const included = include.name;
  const sink = new DiagnosticSink(file);
  const fail = (): SplitResult => ({ kind: 'invalid', source: path, files: new Map(), diagnostics: sink.items });
  // The included name becomes both a file read and an output name beside the wrapper in --out: both must stay
  // inside the wrapper's directory, links followed.
  let includedPath: string;
  try {
    includedPath = confinePath(dirname(path), included, { what: `the included livepatch '${included}'`, file, ...include.pos });
  } catch (e) {
    if (!(e instanceof KlpError)) throw e;
    sink.error(include.pos, e.code, e.message);
    return fail();
  }
  // The name the wrapper's #include uses, normalized ("./lp.c" -> "lp.c"); a link stays under its own name.
  const outputName = relative(resolve(dirname(path)), includedPath).split(sep).join('/');
  if (outputName === '' || outputName.startsWith('../') || isAbsolute(outputName)) {
    sink.error(include.pos, 'path-escape', `the included livepatch '${included}' leaves ${dirname(path)}`);
    return fail();
  }
  if (outputName.includes('/')) {
    // The split is written flat into --out; the wrapper's #include must then find the file beside it.
    sink.error(include.pos, 'include-not-beside', `the included livepatch '${included}' is in a subdirectory; klp-split writes a split into one directory, so put it beside ${basename(path)}`);
    return fail();
  }
  const here = [...stack, realOrSelf(path)];
  if (here.includes(realOrSelf(includedPath))) {
    sink.error(include.pos, 'include-cycle', `'${included}' includes this file again (${[...here.map((p) => basename(p)), basename(includedPath)].join(' -> ')})`);
    return fail();
  }
  let innerSource: string;
  try {
    // Read exactly as splitFile reads the wrapper: both texts are written back the same way.
    innerSource = readSourceText(includedPath);
  } catch (e) {
    sink.error(include.pos, 'include-unreadable', `cannot read the included livepatch '${included}': ${errnoOf(e)}`);
    return fail();
  }
  const innerOpts = { ...opts, displayName: join(dirname(file), included) };
  let inner = splitSource(includedPath, innerSource, innerOpts);
  if (inner.kind === 'not-livepatch') {
    const next = wrapperInclude(innerSource);
    if (next) inner = splitWrapper(includedPath, innerSource, next, innerOpts, here);
  }
  if (inner.kind !== 'split' || !inner.manifest) {
    return { ...inner, source: path, diagnostics: [...sink.items, ...inner.diagnostics] };
  }
  if (inner.manifest.parts.length > 1) {
    sink.error(include.pos, 'included-livepatch-with-objects', `'${included}' patches modules; a livepatch that includes it would need its own per-object sources, which klp-split does not derive from an #include`);
    return fail();
  }
  const fileBase = basename(path).replace(/\.c$/, '');
  const patch = kbuildModuleName(fileBase);
  sink.note(include.pos, 'includes-livepatch', `builds the split of '${included}' under its own name '${patch}'; split '${included}' into the same directory`);
  const vmlinux = inner.manifest.parts[0]!;
  const manifest = buildManifest({
    ...inner.manifest,
    patch,
    source: basename(path),
    includes: [included],
    parts: [{ ...vmlinux, module: patch, file: basename(path) }],
    warnings: sink.items.map(formatDiagnostic),
  });
  const files = new Map([[basename(path), source]]);
  // The included file's split (and, when it is itself a wrapper, what that includes), beside the wrapper.
  const innerMain = inner.manifest.parts[0]!.file;
  for (const [name, text] of inner.files) if (name !== MANIFEST_FILE && name !== innerMain) files.set(name, text);
  files.set(outputName, inner.files.get(innerMain)!);
  files.set(MANIFEST_FILE, manifestText(manifest));
  return { kind: 'split', source: path, files, manifest, diagnostics: sink.items };
}

/** The manifest of a split, through the one builder in @klp-split/core. */
function splitManifest(unit: SourceUnit, source: string, model: LivepatchModel, plan: SplitPlan, partFiles: Map<SplitPlan['main'], PartFiles>, diags: Diagnostic[], sourceMap?: ManifestSourceMap, localHeaderDirs?: string[]): SplitManifest {
  const part = (p: SplitPlan['main']) => ({
    object: p.object,
    module: p.module,
    file: partFiles.get(p)!.file,
    ...(partFiles.get(p)!.files ? { files: partFiles.get(p)!.files } : {}),
    ...(p.entry?.condition ? { condition: p.entry.condition } : {}),
    ...(p.entry?.compiledOut ? { compiledOut: true } : {}),
    funcs: (p.entry?.funcs ?? []).map((f) => ({
      oldName: f.oldName,
      newFunc: plan.exportNames.name(f.newFunc),
      sympos: f.sympos,
      ...(f.condition ? { condition: f.condition } : {}),
      ...(f.evaluated ? { nameFrom: 'compiler' as const } : {}),
    })),
    callbacks: (p.entry?.callbacks ?? []).map((c) => ({ ...c, func: plan.exportNames.name(c.func) })),
  });
  return buildManifest({
    generator: `${TOOL_NAME} ${TOOL_VERSION}`,
    patch: plan.patch,
    source,
    header: plan.header.length ? plan.headerFile : undefined,
    localHeaderDirs,
    exports: plan.exported.map((i) => plan.exportNames.name(i.defines[0]!)),
    parts: [part(plan.main), ...plan.objects.map(part)],
    sourceMap,
    warnings: diags.filter((d) => d.severity !== 'note').map((d) => formatDiagnostic({ ...d, file: basename(d.file) })),
    ...patchFields(unit, model),
  });
}

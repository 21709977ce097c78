/**
 * The split manifest `klp-split.json`: the one contract between the
 * splitter, kbuild-gen and runtime-sim (architecture.md). The splitter makes
 * it with buildManifest() only; every reader goes through readManifest() or
 * checkManifest(), which refuse a malformed one with the file and the JSON
 * path of each problem. Tools outside the project read it, so fields are
 * only ever added; version 2 made `replace` a boolean and `states` a list.
 */
import { readInputText, parseJsonInput } from '../read-input.js';
import { KlpError } from '../errors.js';
import { isCallbackKind, CALLBACK_KINDS, type CallbackKind } from './callbacks.js';
import { JsonProblems, kindOf, relativePathProblem } from './json-check.js';

export const MANIFEST_FILE = 'klp-split.json';
export const MANIFEST_VERSION = 2;
/**
 * The most parts (the main module plus one per patched object) a manifest may
 * list. A livepatch patches vmlinux and a handful of modules; the bound keeps
 * a hostile manifest from making verify's work grow without limit.
 */
export const MAX_MANIFEST_PARTS = 1024;
/** The most functions one part may replace. */
const MAX_PART_FUNCS = 65536;

interface ManifestFunc {
  oldName: string;
  newFunc: string;
  sympos: number;
  /** The `#if` expression the entry is under; it is listed because this kernel's configuration keeps it. */
  condition?: string;
  /** 'compiler': old_name was built by macros and evaluated by kbuild's preprocessor for this kernel. */
  nameFrom?: 'compiler';
}

/**
 * Which original line each line of a generated file comes from: `sources`
 * are the original files as named to the splitter, `files` maps a generated
 * file to `;`-separated segments `generatedLine,sourceIndex,sourceLine,count,exact`.
 */
export interface ManifestSourceMap {
  sources: string[];
  files: Record<string, string>;
}

interface ManifestCallback {
  kind: CallbackKind;
  func: string;
}

export interface ManifestPart {
  /** 'vmlinux' or the target module's name (underscore form). */
  object: string;
  /** Kernel module name of the part. */
  module: string;
  /** Source file of the part, relative to the manifest's directory (of a composite part: the one with its klp_object). */
  file: string;
  /**
   * A part built from several files (kbuild `<module>-y := a.o b.o`), in link
   * order, `file` among them; its kbuild object is then `<module>.o`.
   */
  files?: string[];
  /** The `#if` expression the object's entry is under in the original klp_object array. */
  condition?: string;
  /**
   * The configuration the split was made for leaves the object out: its
   * sources are written (under the condition) but it is not built, and it
   * is not in `objNames`.
   */
  compiledOut?: boolean;
  funcs: ManifestFunc[];
  callbacks: ManifestCallback[];
}

/** One entry of the patch's struct klp_state array. */
export interface ManifestState {
  /** The value of `.id`, or null when it is not a constant klp-split can evaluate. */
  id: number | null;
  /** The value of `.version` (0 when absent), or null when it cannot be evaluated. */
  version: number | null;
  /** `.id` and `.version` as the C source spells them. */
  idText: string;
  versionText?: string;
}

export interface SplitManifest {
  manifestVersion: number;
  generator: string;
  patch: string;
  source: string;
  /** Every source of a livepatch module built from several files (kbuild link order). */
  sources?: string[];
  /** Shared header, when parts share declarations. */
  header?: string;
  /** Other sources the main file includes (a livepatch built from another's source). */
  includes?: string[];
  objNames: string[];
  /** klp_patch.replace; absent only when its C text is not a constant (then see replaceText). */
  replace?: boolean;
  /** klp_patch.replace as the C source spells it, when it is not a plain constant. */
  replaceText?: string;
  /** klp_patch.states; absent when the patch has none. */
  states?: ManifestState[];
  /** Symbols the main module exports for the per-object modules. */
  exports: string[];
  parts: ManifestPart[];
  /** Each generated file's lines to the original source lines (findings are reported there). */
  sourceMap?: ManifestSourceMap;
  /** Warnings the split produced, compiler style. */
  warnings: string[];
  /** sha256 of each generated file as written, by relative name (edit protection). */
  fileHashes?: Record<string, string>;
}

export interface ManifestInput {
  generator: string;
  patch: string;
  source: string;
  sources?: string[];
  header?: string;
  includes?: string[];
  replace?: boolean;
  replaceText?: string;
  states?: ManifestState[];
  exports: string[];
  parts: ManifestPart[];
  sourceMap?: ManifestSourceMap;
  warnings: string[];
  fileHashes?: Record<string, string>;
}

/**
 * The one manifest builder: the splitter (split and convert) makes every
 * manifest here, so what it writes always passes the reader's check.
 */
export function buildManifest(input: ManifestInput, file = MANIFEST_FILE): SplitManifest {
  // Key order is the file's order: stable, so re-splits diff cleanly.
  const manifest: SplitManifest = {
    manifestVersion: MANIFEST_VERSION,
    generator: input.generator,
    patch: input.patch,
    source: input.source,
    ...(input.sources?.length ? { sources: [...input.sources] } : {}),
    ...(input.header !== undefined ? { header: input.header } : {}),
    ...(input.includes?.length ? { includes: [...input.includes] } : {}),
    objNames: builtParts(input).filter((p) => p.object !== 'vmlinux').map((p) => p.object),
    ...(input.replace !== undefined ? { replace: input.replace } : {}),
    ...(input.replaceText !== undefined ? { replaceText: input.replaceText } : {}),
    ...(input.states !== undefined ? { states: input.states.map((s) => ({ ...s })) } : {}),
    exports: [...input.exports],
    parts: input.parts.map((p) => ({ object: p.object, module: p.module, file: p.file, ...(p.files ? { files: [...p.files] } : {}), ...(p.condition !== undefined ? { condition: p.condition } : {}), ...(p.compiledOut ? { compiledOut: true } : {}), funcs: p.funcs.map((f) => ({ ...f })), callbacks: p.callbacks.map((c) => ({ ...c })) })),
    ...(input.sourceMap !== undefined ? { sourceMap: { sources: [...input.sourceMap.sources], files: { ...input.sourceMap.files } } } : {}),
    warnings: [...input.warnings],
    ...(input.fileHashes !== undefined ? { fileHashes: { ...input.fileHashes } } : {}),
  };
  return checkManifest(manifest, file);
}

/** The parts the configuration builds (every part but those it leaves out). */
export function builtParts<P extends { compiledOut?: boolean }>(m: { parts: P[] }): P[] {
  return m.parts.filter((p) => !p.compiledOut);
}

export function manifestText(m: SplitManifest): string {
  return `${JSON.stringify(m, null, 2)}\n`;
}

/** Reads and checks a manifest file (bounded read, regular files only). */
export function readManifest(path: string, display = path): SplitManifest {
  const text = readInputText(path, 'json', { what: 'manifest' });
  return parseManifest(text, display);
}

export function parseManifest(text: string, file: string): SplitManifest {
  return checkManifest(parseJsonInput(text, file, 'manifest'), file);
}

const SYMBOL = /^[A-Za-z_][A-Za-z0-9_.$]*$/;

/** Whether a string can be a kernel symbol name (an old_name, a new_func). */
export function isSymbolName(s: string): boolean {
  return SYMBOL.test(s);
}
const MODULE = /^[A-Za-z0-9_-]+$/;
const SOURCE_MAP_SEGMENTS = /^(?:\d+,\d+,\d+,\d+,[01](?:;\d+,\d+,\d+,\d+,[01])*)?$/;

function show(s: string): string {
  return JSON.stringify(s.length > 60 ? `${s.slice(0, 60)}...` : s);
}

/**
 * Checks parsed JSON against the manifest schema and returns it typed. Every
 * problem is reported with its JSON path; duplicate parts, objects, modules
 * or files and more than MAX_MANIFEST_PARTS parts are refused.
 */
export function checkManifest(data: unknown, file: string): SplitManifest {
  const p = new JsonProblems();
  const input = p.object(data, '$');
  if (!input) {
    p.throwIfAny(file, 'manifest', 'manifest-invalid');
    throw new KlpError('unreachable', { code: 'internal' });
  }
  // Work on copies: the caller's data is never changed, whatever the outcome.
  const m: Record<string, unknown> = { ...input };
  if (Array.isArray(m.parts)) m.parts = m.parts.map((x: unknown) => (typeof x === 'object' && x !== null && !Array.isArray(x) ? { ...x } : x));
  const version = m.manifestVersion;
  if (version !== undefined && (typeof version !== 'number' || !Number.isInteger(version) || version < 1)) p.add('$.manifestVersion', `expected a positive integer, got ${kindOf(version)}`);
  else if (typeof version === 'number' && version > MANIFEST_VERSION) p.add('$.manifestVersion', `version ${version} is newer than this klp-split reads (${MANIFEST_VERSION})`);
  const legacy = version === undefined || version === 1;
  p.string(m, 'generator', '$', { optional: true });
  const patch = p.string(m, 'patch', '$', { nonEmpty: true });
  if (patch !== undefined && !MODULE.test(patch)) p.add('$.patch', `${show(patch)} is not a module name`);
  p.string(m, 'source', '$', { optional: true });
  for (const key of ['header'] as const) {
    const v = p.string(m, key, '$', { optional: true });
    const why = v === undefined ? undefined : relativePathProblem(v);
    if (why) p.add(`$.${key}`, why);
  }
  const includes = p.array(m, 'includes', '$', { optional: true, max: 64 });
  includes?.forEach((v, i) => {
    if (typeof v !== 'string') p.add(`$.includes[${i}]`, `expected a string, got ${kindOf(v)}`);
    else {
      const why = relativePathProblem(v);
      if (why) p.add(`$.includes[${i}]`, why);
    }
  });
  const sources = p.array(m, 'sources', '$', { optional: true, max: 1024 });
  sources?.forEach((v, i) => {
    if (typeof v !== 'string') p.add(`$.sources[${i}]`, `expected a string, got ${kindOf(v)}`);
    else {
      const why = relativePathProblem(v);
      if (why) p.add(`$.sources[${i}]`, why);
    }
  });
  if (m.sourceMap !== undefined) {
    const sm = p.object(m.sourceMap, '$.sourceMap');
    if (sm) {
      const smSources = p.array(sm, 'sources', '$.sourceMap', { max: 1024 });
      smSources?.forEach((v, i) => {
        if (typeof v !== 'string') p.add(`$.sourceMap.sources[${i}]`, `expected a string, got ${kindOf(v)}`);
      });
      const files = p.object(sm.files, '$.sourceMap.files');
      if (files) {
        for (const [k, v] of Object.entries(files)) {
          const why = relativePathProblem(k);
          if (why) p.add(`$.sourceMap.files[${show(k)}]`, why);
          if (typeof v !== 'string' || !SOURCE_MAP_SEGMENTS.test(v)) p.add(`$.sourceMap.files[${show(k)}]`, 'expected segments "gen,src,line,count,exact;..."');
        }
      }
    }
  }
  for (const key of ['objNames', 'exports', 'warnings'] as const) {
    const list = p.array(m, key, '$', { optional: true, max: key === 'warnings' ? 100_000 : MAX_MANIFEST_PARTS * 64 });
    list?.forEach((v, i) => {
      if (typeof v !== 'string') p.add(`$.${key}[${i}]`, `expected a string, got ${kindOf(v)}`);
    });
  }
  // Version 1 kept replace and states as C text; carry that text over.
  if (legacy && typeof m.replace === 'string') {
    const t = m.replace.trim();
    if (t === 'true' || t === '1') m.replace = true;
    else if (t === 'false' || t === '0') m.replace = false;
    else {
      m.replaceText = t;
      delete m.replace;
    }
  } else if (m.replace !== undefined && typeof m.replace !== 'boolean') p.add('$.replace', `expected a boolean, got ${kindOf(m.replace)}`);
  p.string(m, 'replaceText', '$', { optional: true });
  if (legacy && typeof m.states === 'string') {
    m.states = [{ id: null, version: null, idText: m.states }];
  }
  const states = p.array(m, 'states', '$', { optional: true, max: 1024 });
  states?.forEach((s, i) => {
    const o = p.object(s, `$.states[${i}]`);
    if (!o) return;
    for (const k of ['id', 'version'] as const) {
      if (o[k] !== null && !(typeof o[k] === 'number' && Number.isSafeInteger(o[k]))) p.add(`$.states[${i}].${k}`, `expected an integer or null, got ${kindOf(o[k])}`);
    }
    p.string(o, 'idText', `$.states[${i}]`);
    p.string(o, 'versionText', `$.states[${i}]`, { optional: true });
  });
  if (m.fileHashes !== undefined) {
    const h = p.object(m.fileHashes, '$.fileHashes');
    if (h) {
      for (const [k, v] of Object.entries(h)) {
        const why = relativePathProblem(k);
        if (why) p.add(`$.fileHashes[${show(k)}]`, why);
        if (typeof v !== 'string' || !/^[0-9a-f]{64}$/.test(v)) p.add(`$.fileHashes[${show(k)}]`, 'expected a sha256 in hexadecimal');
      }
    }
  }

  const parts = p.array(m, 'parts', '$', { max: MAX_MANIFEST_PARTS });
  if (parts && parts.length === 0) p.add('$.parts', 'is empty; a split livepatch has at least its main module');
  const seen = { object: new Map<string, number>(), module: new Map<string, number>(), file: new Map<string, number>() };
  parts?.forEach((raw, i) => {
    const at = `$.parts[${i}]`;
    const part = p.object(raw, at);
    if (!part) return;
    const object = p.string(part, 'object', at, { nonEmpty: true });
    const module = p.string(part, 'module', at, { nonEmpty: true });
    const pfile = p.string(part, 'file', at, { nonEmpty: true });
    if (object !== undefined && !MODULE.test(object)) p.add(`${at}.object`, `${show(object)} is not a module name`);
    if (module !== undefined && !MODULE.test(module)) p.add(`${at}.module`, `${show(module)} is not a module name`);
    if (pfile !== undefined) {
      const why = relativePathProblem(pfile);
      if (why) p.add(`${at}.file`, why);
    }
    const pfiles = p.array(part, 'files', at, { optional: true, max: 1024 });
    pfiles?.forEach((v, j) => {
      if (typeof v !== 'string') p.add(`${at}.files[${j}]`, `expected a string, got ${kindOf(v)}`);
      else {
        const why = relativePathProblem(v);
        if (why) p.add(`${at}.files[${j}]`, why);
      }
    });
    if (pfiles && pfile !== undefined && !pfiles.includes(pfile)) p.add(`${at}.files`, `does not list the part's file ${show(pfile)}`);
    const named: [('object' | 'module' | 'file'), string | undefined][] = [['object', object], ['module', module], ...(pfiles ?? [pfile]).map((f): ['file', string | undefined] => ['file', typeof f === 'string' ? f : undefined])];
    for (const [key, value] of named) {
      if (value === undefined) continue;
      const first = seen[key].get(value);
      if (first !== undefined) p.add(`${at}.${key}`, `duplicate ${key} ${show(value)} (also $.parts[${first}])`);
      else seen[key].set(value, i);
    }
    p.string(part, 'condition', at, { optional: true });
    if (part.compiledOut !== undefined && typeof part.compiledOut !== 'boolean') p.add(`${at}.compiledOut`, `expected a boolean, got ${kindOf(part.compiledOut)}`);
    const funcs = p.array(part, 'funcs', at, { optional: true, max: MAX_PART_FUNCS });
    funcs?.forEach((f, j) => {
      const fo = p.object(f, `${at}.funcs[${j}]`);
      if (!fo) return;
      const oldName = p.string(fo, 'oldName', `${at}.funcs[${j}]`, { nonEmpty: true });
      if (oldName !== undefined && !SYMBOL.test(oldName)) p.add(`${at}.funcs[${j}].oldName`, `${show(oldName)} is not a symbol name`);
      p.string(fo, 'newFunc', `${at}.funcs[${j}]`);
      p.string(fo, 'condition', `${at}.funcs[${j}]`, { optional: true });
      if (fo.nameFrom !== undefined && fo.nameFrom !== 'compiler') p.add(`${at}.funcs[${j}].nameFrom`, `expected "compiler", got ${kindOf(fo.nameFrom)}`);
      if (!(typeof fo.sympos === 'number' && Number.isSafeInteger(fo.sympos) && fo.sympos >= 0)) p.add(`${at}.funcs[${j}].sympos`, `expected a non-negative integer, got ${kindOf(fo.sympos)}`);
    });
    const callbacks = p.array(part, 'callbacks', at, { optional: true, max: CALLBACK_KINDS.length });
    callbacks?.forEach((c, j) => {
      const co = p.object(c, `${at}.callbacks[${j}]`);
      if (!co) return;
      if (!isCallbackKind(co.kind)) p.add(`${at}.callbacks[${j}].kind`, `expected one of ${CALLBACK_KINDS.join(', ')}`);
      p.string(co, 'func', `${at}.callbacks[${j}]`);
    });
    part.funcs ??= [];
    part.callbacks ??= [];
  });
  p.throwIfAny(file, 'manifest', 'manifest-invalid');
  m.manifestVersion ??= 1;
  m.generator ??= '';
  m.source ??= '';
  m.objNames ??= (m.parts as ManifestPart[]).filter((x) => x.object !== 'vmlinux' && !x.compiledOut).map((x) => x.object);
  m.exports ??= [];
  m.warnings ??= [];
  return m as unknown as SplitManifest;
}

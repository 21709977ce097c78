import type { SourceMap } from './source-map.js';

/**
 * The split manifest `klp-split.json`: the one contract between the
 * splitter, kbuild-gen and runtime-sim (architecture.md). Tools outside the
 * project read it, so fields are only ever added.
 */
export const MANIFEST_FILE = 'klp-split.json';
export const MANIFEST_VERSION = 1;

export interface ManifestFunc {
  oldName: string;
  newFunc: string;
  sympos: number;
  /** The `#if` expression the entry is under; it is listed because this kernel's configuration keeps it. */
  condition?: string;
  /** 'compiler': old_name was built by macros and evaluated by kbuild's preprocessor for this kernel. */
  nameFrom?: 'compiler';
}

export interface ManifestCallback {
  kind: 'pre_patch' | 'post_patch' | 'pre_unpatch' | 'post_unpatch';
  func: string;
}

export interface ManifestPart {
  /** 'vmlinux' or the target module's name (underscore form). */
  object: string;
  /** Kernel module name of the part. */
  module: string;
  /** Source files of the part, the first one being its main file. */
  file: string;
  funcs: ManifestFunc[];
  callbacks: ManifestCallback[];
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
  replace?: string;
  states?: string;
  /** Symbols the main module exports for the per-object modules. */
  exports: string[];
  parts: ManifestPart[];
  /** Each generated file's lines to the original source lines (findings are reported there). */
  sourceMap?: SourceMap;
  /** Warnings the split produced, compiler style. */
  warnings: string[];
}

export function manifestText(m: SplitManifest): string {
  return `${JSON.stringify(m, null, 2)}\n`;
}

export function parseManifest(text: string, file: string): SplitManifest {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: not valid JSON: ${(e as Error).message}`);
  }
  const m = data as Partial<SplitManifest>;
  if (typeof m !== 'object' || m === null || typeof m.patch !== 'string' || !Array.isArray(m.parts)) {
    throw new Error(`${file}: not a klp-split manifest (needs "patch" and "parts")`);
  }
  for (const [i, p] of m.parts.entries()) {
    if (typeof p?.object !== 'string' || typeof p.module !== 'string' || typeof p.file !== 'string') {
      throw new Error(`${file}: parts[${i}] needs "object", "module" and "file"`);
    }
    p.funcs ??= [];
    p.callbacks ??= [];
  }
  m.objNames ??= m.parts.filter((p) => p.object !== 'vmlinux').map((p) => p.object);
  m.exports ??= [];
  m.warnings ??= [];
  return m as SplitManifest;
}

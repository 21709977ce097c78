/**
 * The build record `.klp-split/build.json`: what `klp-split build` leaves
 * next to the split sources for `verify` and `simulate` (the kernel tree, the
 * layout probe and the modules it built). It is data a user can edit or
 * restore from a cache, so the reader trusts none of its paths: module and
 * probe paths must stay inside the build directory, and the symbol versions
 * are always the kernel tree's own Module.symvers.
 */
import { existsSync, statSync } from 'node:fs';
import { isAbsolute, join, normalize } from 'node:path';
import { confinePath } from '../confine.js';
import { KlpError } from '../errors.js';
import { parseJsonInput, readInputText } from '../read-input.js';
import { JsonProblems, relativePathProblem } from './json-check.js';
import { MAX_MANIFEST_PARTS } from './manifest.js';

export const BUILD_RECORD = '.klp-split/build.json';
/** The layout probe's copy inside a split build directory. */
export const LAYOUT_MODULE = '.klp-split/klp_split_layout.ko';
/** The kernel tree's file of exported symbols and their CRCs. */
const SYMVERS_FILE = 'Module.symvers';

export interface BuiltModule {
  module: string;
  /** Path of the .ko; relative to the build directory in the record, absolute once read. */
  ko: string;
  /** sha256 of the .ko the build left (after its relocation pass). */
  sha256?: string;
}

export interface BuildRecord {
  kdir: string;
  release: string;
  overlayInclude?: string;
  /** Module holding the livepatch structures' layout for this kernel. */
  layoutModule?: string;
  /** Always `<kdir>/Module.symvers`. */
  symvers: string;
  modules: BuiltModule[];
  /**
   * Livepatch relocations the build wrote (the klp-relocs pass): per rewritten
   * module, its `.klp.sym` symbols and `.klp.rela` sections. Informational:
   * verify reads the modules themselves.
   */
  relocations?: { module: string; ko: string; symbols: { name: string; klpName: string; object: string; sympos: number }[]; sections: Record<string, number>; droppedDepends: string[] }[];
  /** sha256 of the sources, manifests and kbuild files the build read, by name (build-freshness.ts). */
  inputs?: Record<string, string>;
  /** The last build of the directory failed: the modules there are not its sources' (no module is listed). */
  failed?: { at: string; errors: number };
}

/** The record `build` writes; paths of modules and the probe relative to the build directory. */
export function buildRecordText(record: BuildRecord): string {
  return `${JSON.stringify(record, null, 2)}\n`;
}

/** `<kdir>/Module.symvers`: the only symbol versions a record may name. */
function kernelSymvers(kdir: string): string {
  return join(kdir, SYMVERS_FILE);
}

/**
 * Reads and checks `<dir>/.klp-split/build.json`; undefined when there is
 * none. Paths come back absolute, each checked before anything opens it.
 */
export function readBuildRecord(dir: string): BuildRecord | undefined {
  const path = join(dir, BUILD_RECORD);
  if (!existsSync(path)) return undefined;
  confinePath(dir, BUILD_RECORD, { what: 'build record' });
  const data = parseJsonInput(readInputText(path, 'json', { what: 'build record' }), path, 'build record');
  return checkBuildRecord(data, dir, path);
}

/** Checks parsed JSON as the build record of `dir`; `file` names it in errors. */
export function checkBuildRecord(data: unknown, dir: string, file: string): BuildRecord {
  const p = new JsonProblems();
  const r = p.object(data, '$') ?? {};
  const kdir = p.string(r, 'kdir', '$', { nonEmpty: true });
  if (kdir !== undefined && !isAbsolute(kdir)) p.add('$.kdir', 'must be an absolute path to a kernel tree');
  const release = p.string(r, 'release', '$', { nonEmpty: true });
  if (release !== undefined && !/^[A-Za-z0-9._+~-]+$/.test(release)) p.add('$.release', 'is not a kernel release string');
  p.string(r, 'overlayInclude', '$', { optional: true });
  const symvers = p.string(r, 'symvers', '$', { optional: true });
  if (symvers !== undefined && kdir !== undefined && normalize(symvers) !== kernelSymvers(normalize(kdir))) {
    // The value is never opened nor echoed: only the kernel tree's own file is read.
    p.add('$.symvers', `must be the kernel tree's own ${SYMVERS_FILE} ($.kdir + '/${SYMVERS_FILE}')`);
  }
  const layout = p.string(r, 'layoutModule', '$', { optional: true });
  const layoutWhy = layout === undefined ? undefined : relativePathProblem(layout);
  if (layoutWhy) p.add('$.layoutModule', layoutWhy);
  const inputs = r.inputs;
  if (inputs !== undefined && (typeof inputs !== 'object' || inputs === null || Array.isArray(inputs) || !Object.values(inputs).every((v) => typeof v === 'string' && /^[0-9a-f]{64}$/.test(v)))) {
    p.add('$.inputs', 'expected file names with their sha256 in hexadecimal');
  }
  const failed = r.failed as { at?: unknown; errors?: unknown } | undefined;
  if (failed !== undefined && (typeof failed !== 'object' || failed === null || typeof failed.at !== 'string' || typeof failed.errors !== 'number')) p.add('$.failed', "expected { at, errors }");
  const modules = p.array(r, 'modules', '$', { max: MAX_MANIFEST_PARTS * 2 });
  const seen = new Set<string>();
  modules?.forEach((m, i) => {
    const o = p.object(m, `$.modules[${i}]`);
    if (!o) return;
    const name = p.string(o, 'module', `$.modules[${i}]`, { nonEmpty: true });
    const ko = p.string(o, 'ko', `$.modules[${i}]`, { nonEmpty: true });
    const sha = p.string(o, 'sha256', `$.modules[${i}]`, { optional: true });
    if (sha !== undefined && !/^[0-9a-f]{64}$/.test(sha)) p.add(`$.modules[${i}].sha256`, 'expected a sha256 in hexadecimal');
    const why = ko === undefined ? undefined : relativePathProblem(ko);
    if (why) p.add(`$.modules[${i}].ko`, why);
    else if (ko !== undefined && !ko.endsWith('.ko')) p.add(`$.modules[${i}].ko`, 'must name a .ko file');
    if (name !== undefined) {
      if (seen.has(name)) p.add(`$.modules[${i}].module`, `duplicate module '${name.slice(0, 60)}'`);
      seen.add(name);
    }
  });
  p.throwIfAny(file, 'build record', 'build-record-invalid');

  const tree = kdir!;
  const isDir = (d: string) => existsSync(d) && statSync(d).isDirectory();
  if (!isDir(tree) || !existsSync(join(tree, 'Makefile')) || !existsSync(kernelSymvers(tree))) {
    throw new KlpError(`$.kdir is not a kernel tree (a directory with a Makefile and ${SYMVERS_FILE})`, {
      code: 'build-record-kdir',
      file,
      hint: "rebuild with 'klp-split build' against an existing kernel tree",
    });
  }
  const at = (what: string) => ({ what, file });
  return {
    kdir: tree,
    release: release!,
    overlayInclude: r.overlayInclude as string | undefined,
    symvers: kernelSymvers(tree),
    layoutModule: layout === undefined ? undefined : confinePath(dir, layout, at('$.layoutModule')),
    modules: modules!.map((m, i) => {
      const o = m as { module: string; ko: string; sha256?: string };
      return { module: o.module, ko: confinePath(dir, o.ko, at(`$.modules[${i}].ko`)), ...(o.sha256 ? { sha256: o.sha256 } : {}) };
    }),
    ...(inputs ? { inputs: inputs as Record<string, string> } : {}),
    ...(failed ? { failed: failed as BuildRecord['failed'] } : {}),
  };
}

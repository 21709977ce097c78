import { basename, dirname, resolve } from 'node:path';
import { confinePath, KlpError, parseJsonInput, readInputText } from '@klp-split/core';

/**
 * The marker files that make a directory a klp-split project.
 *
 * `klp-livepatch.json` (a livepatch to split, build and verify):
 *   { "name"?: string, "source": "fix.c", "targets"?: ["<module project>", ...],
 *     "kdir"?: "<kernel tree>" }
 * `klp-module.json` (a kernel module the livepatch fixes, built with kbuild):
 *   { "name"?: string, "sources": ["mod.c", ...], "kdir"?: "<kernel tree>" }
 *
 * A marker is data from the repository, not configuration we trust: it is
 * validated here (unknown keys, types, paths) before any target is derived
 * from it, and every error names the marker file.
 */
export const LIVEPATCH_MARKER = 'klp-livepatch.json';
export const MODULE_MARKER = 'klp-module.json';

export interface LivepatchMarker {
  name: string;
  /** The marker's path as Nx listed it (relative to the workspace root). */
  markerFile: string;
  root: string;
  source: string;
  targets: string[];
  kdir?: string;
}

export interface ModuleMarker {
  name: string;
  markerFile: string;
  root: string;
  sources: string[];
  kdir?: string;
}

export class MarkerError extends KlpError {
  constructor(file: string, message: string, opts: { code?: string; hint?: string; cause?: unknown } = {}) {
    super(message, { code: opts.code ?? 'marker-invalid', file, hint: opts.hint, cause: opts.cause });
    this.name = 'MarkerError';
  }
}

type Json = Record<string, unknown>;

/** Each field of a marker: its check, given the marker file and the project directory. */
type FieldCheck = (value: unknown, file: string, projectDir: string) => void;

// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/;

function fail(file: string, key: string, must: string): never {
  throw new MarkerError(file, `"${key}" ${must}`);
}

const nameCheck: FieldCheck = (v, file) => {
  if (typeof v !== 'string' || v === '' || CONTROL.test(v)) fail(file, 'name', 'must be a non-empty string without control characters');
};

/** A kernel tree: any path, but one path (a NUL or a newline cannot be part of one we pass on). */
const kdirCheck: FieldCheck = (v, file) => {
  if (typeof v !== 'string' || v === '' || v.includes('\0') || /[\n\r]/.test(v)) fail(file, 'kdir', 'must be the path of a kernel tree (a non-empty string without NUL or newline)');
};

function sourceFile(key: string, v: unknown, file: string, projectDir: string): void {
  if (typeof v !== 'string' || !v.endsWith('.c') || CONTROL.test(v)) fail(file, key, "must name a .c file of the project");
  // A source outside the project would make the project's targets read files of another one.
  confinePath(projectDir, v, { what: `"${key}" ${JSON.stringify(v)}`, file });
}

function stringListCheck(key: string, item: (v: unknown, file: string, projectDir: string) => void, nonEmpty: boolean): FieldCheck {
  return (v, file, projectDir) => {
    if (!Array.isArray(v) || (nonEmpty && v.length === 0)) fail(file, key, `must be a${nonEmpty ? ' non-empty' : ''} list`);
    for (const x of v) item(x, file, projectDir);
  };
}

const targetName = (v: unknown, file: string): void => {
  if (typeof v !== 'string' || v === '' || CONTROL.test(v)) fail(file, 'targets', 'must be a list of project names (non-empty strings)');
};

const LIVEPATCH_FIELDS: Record<string, { required: boolean; check: FieldCheck }> = {
  name: { required: false, check: nameCheck },
  source: { required: true, check: (v, f, d) => sourceFile('source', v, f, d) },
  targets: { required: false, check: stringListCheck('targets', targetName, false) },
  kdir: { required: false, check: kdirCheck },
};

const MODULE_FIELDS: Record<string, { required: boolean; check: FieldCheck }> = {
  name: { required: false, check: nameCheck },
  sources: { required: true, check: stringListCheck('sources', (v, f, d) => sourceFile('sources', v, f, d), true) },
  kdir: { required: false, check: kdirCheck },
};

function validate(j: unknown, fields: Record<string, { required: boolean; check: FieldCheck }>, file: string, projectDir: string): Json {
  if (typeof j !== 'object' || j === null || Array.isArray(j)) throw new MarkerError(file, 'must be a JSON object');
  const obj = j as Json;
  for (const key of Object.keys(obj)) {
    // Unknown keys are refused: a misspelt "kdri" would otherwise be ignored without a word.
    if (!(key in fields)) throw new MarkerError(file, `unknown key "${key}"`, { hint: `known keys: ${Object.keys(fields).join(', ')}` });
  }
  for (const [key, f] of Object.entries(fields)) {
    if (obj[key] === undefined) {
      if (f.required) fail(file, key, 'is required');
      continue;
    }
    f.check(obj[key], file, projectDir);
  }
  return obj;
}

/**
 * Nx pastes a project's directory into the targets' inputs and outputs
 * (`{projectRoot}/*.c`) and reads the result as a glob, and replaces
 * {...} tokens in options: a directory named `fix[1]` or `$(x)` would give
 * its tasks inputs that match none of its sources (a stale cache hit) and
 * outputs that match other projects' files. Such a directory is refused,
 * naming the character.
 */
const NX_PATTERN = /[*?[\]{}()\\]|(?:^|\/)!/;

function projectDirCheck(path: string, root: string): void {
  const m = NX_PATTERN.exec(root);
  if (!m) return;
  throw new MarkerError(path, `the project directory ${JSON.stringify(root)} has '${m[0].replace('/', '')}', which Nx reads as glob or token syntax in the targets' inputs and outputs`, {
    code: 'project-dir',
    hint: 'rename the directory without * ? [ ] { } ( ) \\ and without a leading !',
  });
}

/** Reads and validates a marker; `path` is relative to the workspace root (as Nx lists it) or absolute. */
function readMarker(path: string, workspaceRoot: string, fields: Record<string, { required: boolean; check: FieldCheck }>): Json {
  projectDirCheck(path, dirname(path));
  const full = resolve(workspaceRoot, path);
  let j: unknown;
  try {
    j = parseJsonInput(readInputText(full, 'json', { what: 'marker' }), path, 'marker');
  } catch (e) {
    if (e instanceof KlpError) throw new MarkerError(path, e.message, { code: e.code, cause: e });
    throw e;
  }
  try {
    return validate(j, fields, path, dirname(full));
  } catch (e) {
    // confinePath's errors name the path; the marker is the file to fix.
    if (e instanceof KlpError && !(e instanceof MarkerError)) throw new MarkerError(path, e.message, { code: e.code, hint: e.hint, cause: e });
    throw e;
  }
}

export function readLivepatchMarker(path: string, workspaceRoot: string): LivepatchMarker {
  const j = readMarker(path, workspaceRoot, LIVEPATCH_FIELDS);
  const root = dirname(path);
  return {
    name: (j.name as string | undefined) ?? basename(root),
    markerFile: path,
    root,
    source: j.source as string,
    targets: (j.targets as string[] | undefined) ?? [],
    kdir: j.kdir as string | undefined,
  };
}

export function readModuleMarker(path: string, workspaceRoot: string): ModuleMarker {
  const j = readMarker(path, workspaceRoot, MODULE_FIELDS);
  const root = dirname(path);
  return {
    name: (j.name as string | undefined) ?? basename(root),
    markerFile: path,
    root,
    sources: j.sources as string[],
    kdir: j.kdir as string | undefined,
  };
}

/** Either marker, by its file name: what `kernel-id --marker` reads. */
export function readAnyMarker(path: string, workspaceRoot: string): LivepatchMarker | ModuleMarker {
  const b = basename(path);
  if (b === LIVEPATCH_MARKER) return readLivepatchMarker(path, workspaceRoot);
  if (b === MODULE_MARKER) return readModuleMarker(path, workspaceRoot);
  throw new MarkerError(path, `is not a klp-split marker (${LIVEPATCH_MARKER} or ${MODULE_MARKER})`);
}

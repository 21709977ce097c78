import { existsSync, realpathSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { KlpError } from './errors.js';

interface ConfineOptions {
  /** What the path names, for the message ("part file", "#include", "build record's symvers"). */
  what: string;
  /** The data file the path was read from, for the diagnostic. */
  file?: string;
  line?: number;
  col?: number;
  /** Absolute paths are allowed when they still land inside the base. Default: refused. */
  allowAbsolute?: boolean;
}

function inside(base: string, path: string): boolean {
  const rel = relative(base, path);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

/** The real path of `path`, or of its nearest existing ancestor with the rest appended (for files not yet written). */
function realOrNearest(path: string): string {
  let existing = path;
  const rest: string[] = [];
  while (!existsSync(existing)) {
    const parent = dirname(existing);
    if (parent === existing) break;
    rest.unshift(existing.slice(parent.length + (parent.endsWith(sep) ? 0 : 1)));
    existing = parent;
  }
  let real: string;
  try {
    real = realpathSync(existing);
  } catch {
    real = existing;
  }
  return rest.length ? resolve(real, ...rest) : real;
}

/**
 * Resolves a path read from data (a manifest, a build record, a marker, an
 * #include) against the directory it must stay in, and refuses it unless
 * it lands inside, symbolic links followed. Called before anything is read,
 * written or deleted through it.
 */
export function confinePath(base: string, path: string, opts: ConfineOptions): string {
  const pos = { file: opts.file, line: opts.line, col: opts.col };
  if (typeof path !== 'string' || path === '' || path.includes('\0')) {
    throw new KlpError(`${opts.what} is not a valid path`, { code: 'path-invalid', ...pos });
  }
  if (isAbsolute(path) && !opts.allowAbsolute) {
    throw new KlpError(`${opts.what} '${path}' is absolute; it must be relative to ${base}`, { code: 'path-escape', ...pos });
  }
  const absBase = resolve(base);
  const full = resolve(absBase, path);
  if (!inside(absBase, full) || !inside(realOrNearest(absBase), realOrNearest(full))) {
    throw new KlpError(`${opts.what} '${path}' leaves ${base}`, { code: 'path-escape', ...pos, hint: 'paths in klp-split data files stay inside their directory' });
  }
  return full;
}

import { KlpError } from '../errors.js';

/**
 * A small structural checker for klp-split's JSON data files: it collects
 * every problem with its JSON path ($.parts[3].module) so one error names
 * them all, instead of stopping at the first.
 */
export class JsonProblems {
  readonly items: string[] = [];

  add(path: string, problem: string): void {
    this.items.push(`${path}: ${problem}`);
  }

  string(obj: Record<string, unknown>, key: string, path: string, opts: { optional?: boolean; nonEmpty?: boolean } = {}): string | undefined {
    const v = obj[key];
    if (v === undefined && opts.optional) return undefined;
    if (typeof v !== 'string') this.add(`${path}.${key}`, v === undefined ? 'missing (a string)' : `expected a string, got ${kindOf(v)}`);
    else if (opts.nonEmpty && v === '') this.add(`${path}.${key}`, 'is empty');
    else return v;
    return undefined;
  }

  array(obj: Record<string, unknown>, key: string, path: string, opts: { optional?: boolean; max?: number } = {}): unknown[] | undefined {
    const v = obj[key];
    if (v === undefined && opts.optional) return undefined;
    if (!Array.isArray(v)) {
      this.add(`${path}.${key}`, v === undefined ? 'missing (an array)' : `expected an array, got ${kindOf(v)}`);
      return undefined;
    }
    if (opts.max !== undefined && v.length > opts.max) {
      this.add(`${path}.${key}`, `has ${v.length} entries; at most ${opts.max} are accepted`);
      return undefined;
    }
    return v;
  }

  object(v: unknown, path: string): Record<string, unknown> | undefined {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      this.add(path, `expected an object, got ${kindOf(v)}`);
      return undefined;
    }
    return v as Record<string, unknown>;
  }

  /** Throws one KlpError naming the file and (up to a screenful of) the problems. */
  throwIfAny(file: string, what: string, code: string): void {
    if (!this.items.length) return;
    const shown = this.items.slice(0, 8).join('; ');
    const more = this.items.length > 8 ? `; and ${this.items.length - 8} more` : '';
    const n = this.items.length === 1 ? 'a problem' : `${this.items.length} problems`;
    throw new KlpError(`${what} has ${n}: ${shown}${more}`, { code, file });
  }
}

export function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/** A relative path that stays below its directory by its spelling (links are checked with confinePath when used). */
export function relativePathProblem(p: string): string | undefined {
  if (p === '' || p.includes('\0')) return 'is not a valid path';
  if (p.length > 4096) return `is ${p.length} characters long; not a path`;
  if (p.startsWith('/') || /^[A-Za-z]:[\\/]/.test(p)) return `'${p}' is absolute; paths are relative to the directory`;
  if (p.split(/[\\/]/).includes('..')) return `'${p}' leaves the directory ('..')`;
  return undefined;
}

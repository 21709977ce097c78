import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MANIFEST_FILE, parseManifest } from './manifest.js';

export interface WriteOptions {
  /** Overwrite files that klp-split did not write. */
  force?: boolean;
}

export interface WriteReport {
  written: string[];
  unchanged: string[];
  removed: string[];
}

export class WriteRefused extends Error {
  constructor(readonly files: string[], dir: string) {
    super(`${dir}: would overwrite ${files.map((f) => `'${f}'`).join(', ')}, which klp-split did not write; pass --force to replace`);
  }
}

/** Files an earlier run recorded in the directory's manifest. */
export function generatedFiles(dir: string): Set<string> {
  const path = join(dir, MANIFEST_FILE);
  if (!existsSync(path)) return new Set();
  try {
    const m = parseManifest(readFileSync(path, 'utf8'), path);
    return new Set([MANIFEST_FILE, ...m.parts.map((p) => p.file), ...(m.header ? [m.header] : []), ...(m.includes ?? [])]);
  } catch {
    return new Set();
  }
}

/**
 * Writes all files or none: every file goes to a temporary name first and is
 * renamed into place only when all were written. Identical files are left
 * untouched, so a second run changes nothing.
 */
export function writeFilesAtomically(dir: string, files: Map<string, string>, opts: WriteOptions = {}): WriteReport {
  mkdirSync(dir, { recursive: true });
  const ours = generatedFiles(dir);
  const report: WriteReport = { written: [], unchanged: [], removed: [] };
  const pending: string[] = [];
  const foreign: string[] = [];
  for (const [name, content] of files) {
    const path = join(dir, name);
    if (!existsSync(path)) {
      pending.push(name);
      continue;
    }
    if (readFileSync(path, 'utf8') === content) report.unchanged.push(name);
    else {
      if (!ours.has(name) && !opts.force) foreign.push(name);
      pending.push(name);
    }
  }
  if (foreign.length) throw new WriteRefused(foreign, dir);

  const tmp = (name: string): string => join(dir, `.${name}.klp-split-${process.pid}.tmp`);
  try {
    for (const name of pending) writeFileSync(tmp(name), files.get(name)!);
  } catch (e) {
    for (const name of pending) rmSync(tmp(name), { force: true });
    throw e;
  }
  for (const name of pending) {
    renameSync(tmp(name), join(dir, name));
    report.written.push(name);
  }
  for (const name of ours) {
    if (!files.has(name) && existsSync(join(dir, name))) {
      rmSync(join(dir, name));
      report.removed.push(name);
    }
  }
  return report;
}

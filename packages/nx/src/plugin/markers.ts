import { readFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';

/**
 * The marker files that make a directory a klp-split project.
 *
 * `klp-livepatch.json` (a livepatch to split, build and verify):
 *   { "name"?: string, "source": "fix.c", "targets": ["<module project>", ...],
 *     "kdir"?: "<kernel tree>" }
 * `klp-module.json` (a kernel module the livepatch fixes, built with kbuild):
 *   { "name"?: string, "sources": ["mod.c", ...], "kdir"?: "<kernel tree>" }
 */
export const LIVEPATCH_MARKER = 'klp-livepatch.json';
export const MODULE_MARKER = 'klp-module.json';

export interface LivepatchMarker {
  name: string;
  root: string;
  source: string;
  targets: string[];
  kdir?: string;
}

export interface ModuleMarker {
  name: string;
  root: string;
  sources: string[];
  kdir?: string;
}

export class MarkerError extends Error {}

function readJson(path: string, workspaceRoot: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(`${workspaceRoot}/${path}`, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new MarkerError(`${path}: ${(e as Error).message}`);
  }
}

function stringList(v: unknown, what: string, path: string): string[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new MarkerError(`${path}: "${what}" must be a list of strings`);
  return v as string[];
}

export function readLivepatchMarker(path: string, workspaceRoot: string): LivepatchMarker {
  const j = readJson(path, workspaceRoot);
  const root = dirname(path);
  if (typeof j.source !== 'string' || !j.source.endsWith('.c')) throw new MarkerError(`${path}: "source" must name the livepatch's .c file`);
  return {
    name: typeof j.name === 'string' ? j.name : basename(root),
    root,
    source: j.source,
    targets: j.targets === undefined ? [] : stringList(j.targets, 'targets', path),
    kdir: typeof j.kdir === 'string' ? j.kdir : undefined,
  };
}

export function readModuleMarker(path: string, workspaceRoot: string): ModuleMarker {
  const j = readJson(path, workspaceRoot);
  const root = dirname(path);
  return {
    name: typeof j.name === 'string' ? j.name : basename(root),
    root,
    sources: stringList(j.sources, 'sources', path),
    kdir: typeof j.kdir === 'string' ? j.kdir : undefined,
  };
}

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { confinePath, contentHash, KlpError, parseJsonInput, readInputText, TOOL_NAME, TOOL_VERSION } from '@klp-split/core';

/**
 * `klp-create.json`, written with the livepatch: what it was made from and
 * for (patches, source tree, release, objects and their target modules)
 * and a sha256 of every file create wrote, so an edited one is never
 * replaced silently by the next run.
 */

export const CREATE_RECORD = 'klp-create.json';

export interface CreateRecordObject {
  object: string;
  /** The fixed source files of this object. */
  sources: string[];
  /** old_name and old_sympos of each function replaced. */
  functions: { name: string; oldName: string; sympos: number; reason: string }[];
  /** The distribution's module (a path), for `klp-split build --target`. */
  targetModule?: string;
}

export interface CreateRecord {
  version: 1;
  tool: string;
  patch: string;
  patches: string[];
  source: string;
  release: string;
  objects: CreateRecordObject[];
  files: Record<string, string>;
}

export function recordText(r: Omit<CreateRecord, 'version' | 'tool' | 'files'>, files: Map<string, Buffer>): string {
  const hashes = Object.fromEntries([...files].map(([n, b]) => [n, contentHash(b)]));
  const full: CreateRecord = { version: 1, tool: `${TOOL_NAME} ${TOOL_VERSION}`, ...r, files: hashes };
  return `${JSON.stringify(full, null, 2)}\n`;
}

/** The files an earlier create wrote into `dir`, with their hashes (names confined to the directory). */
export function previousCreated(dir: string): Map<string, string | undefined> {
  const path = join(dir, CREATE_RECORD);
  const out = new Map<string, string | undefined>();
  if (!existsSync(path)) return out;
  const data = parseJsonInput(readInputText(path, 'json', { what: 'create record' }), path, 'create record') as Partial<CreateRecord>;
  if (typeof data !== 'object' || data === null || typeof data.files !== 'object' || data.files === null) {
    throw new KlpError(`${CREATE_RECORD} is not a record klp-split create wrote (no "files")`, { code: 'create-record-invalid', file: path });
  }
  for (const [name, hash] of Object.entries(data.files)) {
    confinePath(dir, name, { what: `${CREATE_RECORD}'s file`, file: path });
    out.set(name, typeof hash === 'string' ? hash : undefined);
  }
  return out;
}

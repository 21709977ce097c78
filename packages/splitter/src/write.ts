import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { confinePath, contentHash, readInputText } from '@klp-split/core';
import { manifestText, parseManifest, type SplitManifest } from './manifest.js';

/**
 * The splitter's side of the write layer (@klp-split/core's write/): output
 * texts become exact bytes, the manifest records a hash of each generated
 * file, and an earlier manifest's names are read back confined.
 */

/**
 * The bytes of an output file. Sources, headers and Makefiles are latin1
 * strings (readSourceText): one character per byte, so bytes that are not
 * UTF-8 come out as they came in. JSON records are UTF-8.
 */
export function outputBytes(name: string, text: string): Buffer {
  return Buffer.from(text, name.endsWith('.json') ? 'utf8' : 'latin1');
}

/**
 * The split's files as bytes, its manifest (under `manifestName`) carrying the
 * sha256 of every other file it lists, so a later run can tell an edited file.
 */
export function splitOutputBytes(files: Map<string, string>, manifest: SplitManifest, manifestName: string, sourceManifestName = manifestName): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const fileHashes: Record<string, string> = {};
  for (const [name, text] of files) {
    if (name === sourceManifestName) continue;
    const bytes = outputBytes(name, text);
    out.set(name, bytes);
    fileHashes[name] = contentHash(bytes);
  }
  out.set(manifestName, outputBytes(manifestName, manifestText({ ...manifest, fileHashes })));
  return out;
}

/**
 * The files an earlier run recorded in `<dir>/<manifestName>` with their
 * recorded hashes, the manifest itself included. Every name is confined to
 * `dir` here, before anything is replaced or deleted through it: a name that
 * leaves the directory is refused (exit 2) naming the manifest.
 */
export function previousGenerated(dir: string, manifestName: string): Map<string, string | undefined> {
  const path = join(dir, manifestName);
  const previous = new Map<string, string | undefined>();
  if (!existsSync(path)) return previous;
  let m: SplitManifest;
  try {
    m = parseManifest(readInputText(path, 'json', { what: 'manifest' }), path);
  } catch {
    // A name that leaves the directory is refused as such (path-escape, naming the manifest), even when the
    // schema refuses the manifest for it: that is an attack or a corrupted file, not someone else's file.
    refuseEscapingNames(dir, path);
    // Not a manifest we can read: nothing in the directory counts as ours, so nothing is deleted
    // and replacing the file itself needs --force.
    return previous;
  }
  const hashes = typeof m.fileHashes === 'object' && m.fileHashes !== null ? m.fileHashes : {};
  const names: [string, string][] = [
    ...m.parts.map((p, i): [string, string] => [p.file, `manifest's parts[${i}].file`]),
    ...(m.header !== undefined ? [[m.header, "manifest's header"] as [string, string]] : []),
    ...(Array.isArray(m.includes) ? m.includes.map((f, i): [string, string] => [f, `manifest's includes[${i}]`]) : []),
  ];
  for (const [name, what] of names) {
    confinePath(dir, name, { what, file: path });
    const hash = Object.prototype.hasOwnProperty.call(hashes, name) ? hashes[name] : undefined;
    previous.set(name, typeof hash === 'string' ? hash : undefined);
  }
  previous.set(manifestName, undefined);
  return previous;
}

/** Confines the file names a manifest that failed its check still lists (parts, header, includes). */
function refuseEscapingNames(dir: string, path: string): void {
  let data: unknown;
  try {
    data = JSON.parse(readInputText(path, 'json', { what: 'manifest' }));
  } catch {
    return;
  }
  if (typeof data !== 'object' || data === null) return;
  const m = data as { parts?: unknown; header?: unknown; includes?: unknown };
  const names: [unknown, string][] = [
    ...(Array.isArray(m.parts) ? m.parts.map((p: unknown, i): [unknown, string] => [typeof p === 'object' && p !== null ? (p as { file?: unknown }).file : undefined, `manifest's parts[${i}].file`]) : []),
    [m.header, "manifest's header"],
    ...(Array.isArray(m.includes) ? m.includes.map((f: unknown, i): [unknown, string] => [f, `manifest's includes[${i}]`]) : []),
  ];
  for (const [name, what] of names) if (typeof name === 'string' && name !== '') confinePath(dir, name, { what, file: path });
}

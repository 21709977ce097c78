import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { confinePath, contentHash, KlpError, readInput, manifestText, parseManifest, type SplitManifest } from '@klp-split/core';

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
 * recorded hashes (undefined: a manifest without `fileHashes`, version 1, so
 * the write layer treats the file as possibly edited), the manifest itself
 * with the hash of its present bytes. Every name is confined to
 * `dir` here, before anything is replaced or deleted through it: a name that
 * leaves the directory is refused (exit 2) naming the manifest.
 */
export function previousGenerated(dir: string, manifestName: string): Map<string, string | undefined> {
  const path = join(dir, manifestName);
  const previous = new Map<string, string | undefined>();
  if (!existsSync(path)) return previous;
  let m: SplitManifest;
  let bytes: Buffer;
  try {
    bytes = readInput(path, 'json', { what: 'manifest' });
    m = parseManifest(bytes.toString('utf8'), path);
  } catch (e) {
    // A left-over manifest that does not pass the contract's check (a part file outside the directory, a
    // duplicate part) names nothing we may delete or replace: refuse, naming the file and the problem.
    if (e instanceof KlpError) throw e;
    return previous;
  }
  const hashes = typeof m.fileHashes === 'object' && m.fileHashes !== null ? m.fileHashes : {};
  const names: [string, string][] = [
    ...m.parts.map((p, i): [string, string] => [p.file, `manifest's parts[${i}].file`]),
    ...m.parts.flatMap((p, i) => (p.files ?? []).filter((f) => f !== p.file).map((f): [string, string] => [f, `manifest's parts[${i}].files`])),
    ...(m.header !== undefined ? [[m.header, "manifest's header"] as [string, string]] : []),
    ...(Array.isArray(m.includes) ? m.includes.map((f, i): [string, string] => [f, `manifest's includes[${i}]`]) : []),
  ];
  for (const [name, what] of names) {
    confinePath(dir, name, { what, file: path });
    const hash = Object.prototype.hasOwnProperty.call(hashes, name) ? hashes[name] : undefined;
    previous.set(name, typeof hash === 'string' ? hash : undefined);
  }
  // The manifest is the run's own record, rewritten every time: recorded as it is now, so never "edited".
  previous.set(manifestName, contentHash(bytes));
  return previous;
}

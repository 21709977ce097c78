import { existsSync, lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readInput } from '../read-input.js';
import { contentHash } from '../write/hash.js';
import type { BuildRecord } from './build-record.js';

/**
 * Whether the modules of a build directory are the ones its sources make
 * now. `verify` and `simulate` refuse modules that are not (`stale`): a
 * build that failed left the modules of an earlier one, or a source, the
 * manifest or a module changed since the build, and a verdict on them would
 * be about something else than what is there.
 */

/** What a build reads at the top of its directory: C sources and headers, manifests, kbuild files. */
function isBuildInput(name: string): boolean {
  return (/\.[ch]$/.test(name) && !name.endsWith('.mod.c')) || name.endsWith('klp-split.json') || name === 'Kbuild' || name === 'Makefile';
}

/** sha256 of every build input of `dir`, by file name: recorded by the build. */
export function buildInputs(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir).sort()) {
    if (!isBuildInput(name) || !lstatSync(join(dir, name)).isFile()) continue;
    out[name] = contentHash(readInput(join(dir, name), name.endsWith('.json') ? 'json' : 'source'));
  }
  return out;
}

/** Why the modules of `dir` are not those of its sources now; undefined when they are (or the record predates these facts). */
export function staleness(dir: string, record: BuildRecord): string | undefined {
  if (record.failed) return `the last 'klp-split build' of this directory failed (${record.failed.at}, ${record.failed.errors} error${record.failed.errors === 1 ? '' : 's'}): its modules are from an earlier build`;
  if (record.inputs) {
    const now = buildInputs(dir);
    for (const [name, sha] of Object.entries(record.inputs)) {
      if (now[name] === undefined) return `'${name}' was removed after the build`;
      if (now[name] !== sha) return `'${name}' changed after the build: its modules are older than their sources`;
    }
    for (const name of Object.keys(now)) if (!(name in record.inputs)) return `'${name}' appeared after the build`;
  }
  for (const m of record.modules) {
    if (!m.sha256 || !existsSync(m.ko)) continue;
    // Read as the loader reads it: a FIFO or device in its place is refused (exit 2), never waited on.
    if (contentHash(readInput(m.ko, 'elf', { what: `module '${m.module}'` })) !== m.sha256) return `module '${m.module}' is not the one the build made (it changed since)`;
  }
  return undefined;
}

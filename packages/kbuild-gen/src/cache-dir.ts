import { mkdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { KlpError } from '@klp-split/core';

/** Where klp-split keeps (an empty variable counts as unset, as XDG says) what it derives once per kernel tree (overlays, layout probes, kallsyms dumps). */
export function cacheDirPath(): string {
  return process.env.KLP_SPLIT_CACHE || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'klp-split');
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Creates the cache directory one level at a time. Not mkdirSync's
 * `recursive`: under a HOME where creating a child fails with ENOENT although
 * the parent exists (HOME=/proc), Node 20's recursive mkdir loops forever.
 * Failing here names the directory and the variables that move it.
 */
export function ensureCacheDir(dir = cacheDirPath()): string {
  const full = resolve(dir);
  const missing: string[] = [];
  for (let p = full; !isDir(p); p = dirname(p)) {
    if (dirname(p) === p) break;
    missing.unshift(p);
  }
  for (const p of missing) {
    try {
      mkdirSync(p);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'EEXIST' && isDir(p)) continue;
      throw new KlpError(`cannot create the cache directory ${full}: ${err.code ?? err.message} at ${p}`, {
        code: 'cache-dir',
        file: full,
        hint: 'make HOME writable, or set KLP_SPLIT_CACHE (or XDG_CACHE_HOME) to a writable directory',
        cause: e,
      });
    }
  }
  return full;
}

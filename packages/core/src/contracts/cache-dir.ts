import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { KlpError } from '../errors.js';

/**
 * The cache directory of klp-split (kernel environment, overlays, the
 * kallsyms dump, built layout probes): $KLP_SPLIT_CACHE, else
 * $XDG_CACHE_HOME/klp-split, else $HOME/.cache/klp-split. scripts/kernel-env.sh
 * and scripts/qemu-kernel.sh compute the same directory in shell.
 */
const CACHE_DIR_NAME = 'klp-split';

type Env = Record<string, string | undefined>;

function fromVariable(env: Env, name: string, suffix: string[]): string | undefined {
  const v = env[name];
  if (v === undefined || v === '') return undefined;
  if (!isAbsolute(v)) {
    throw new KlpError(`$${name} is '${v}', not an absolute path; klp-split cannot place its cache there`, { code: 'cache-dir-invalid', hint: `set ${name} to an absolute directory` });
  }
  return join(v, ...suffix);
}

/** Where the cache is, without touching the file system; a missing HOME is an environment error. */
export function cacheDir(env: Env = process.env): string {
  const dir =
    fromVariable(env, 'KLP_SPLIT_CACHE', []) ?? fromVariable(env, 'XDG_CACHE_HOME', [CACHE_DIR_NAME]) ?? fromVariable(env, 'HOME', ['.cache', CACHE_DIR_NAME]);
  if (!dir) {
    throw new KlpError('HOME is not set, so there is no cache directory', { code: 'cache-dir-missing', hint: 'set HOME, XDG_CACHE_HOME or KLP_SPLIT_CACHE to a writable directory' });
  }
  return dir;
}

/** The cache directory, created when missing; one that cannot be created or written is an environment error naming it. */
export function ensureCacheDir(env: Env = process.env): string {
  return createCacheDir(cacheDir(env));
}

/** `dir` (a cache directory cacheDir() gave) created when missing and checked writable, as ensureCacheDir() does. */
export function createCacheDir(dir: string): string {
  const refuse = (why: string, cause?: unknown): never => {
    throw new KlpError(`cache directory ${dir} ${why}`, { code: 'cache-dir-unwritable', file: dir, cause, hint: 'make it writable, or set KLP_SPLIT_CACHE to a writable directory' });
  };
  createLevelByLevel(dir, (e) => refuse(`cannot be created (${(e as NodeJS.ErrnoException).code ?? 'error'})`, e));
  if (!statSync(dir).isDirectory()) refuse('is not a directory');
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (e) {
    refuse('is not writable', e);
  }
  return dir;
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * One level at a time, not mkdirSync's `recursive`: under a HOME where
 * creating a child fails with ENOENT although the parent exists (HOME=/proc),
 * Node 20's recursive mkdir loops forever.
 */
function createLevelByLevel(dir: string, fail: (e: unknown) => never): void {
  const missing: string[] = [];
  for (let p = resolve(dir); !isDir(p); p = dirname(p)) {
    if (dirname(p) === p) break;
    missing.unshift(p);
  }
  for (const p of missing) {
    try {
      mkdirSync(p);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
        if (isDir(p)) continue;
        // A file where a directory must be: say so, as mkdir -p does.
        fail(Object.assign(new Error(`${p} is not a directory`), { code: 'ENOTDIR' }));
      }
      fail(e);
    }
  }
}

import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { KlpError } from '../errors.js';
import { cacheDir, ensureCacheDir } from './cache-dir.js';

const root = mkdtempSync(join(tmpdir(), 'klp-cache-'));
afterAll(() => {
  chmodSync(join(root, 'ro'), 0o755);
  rmSync(root, { recursive: true, force: true });
});

function problem(fn: () => unknown): KlpError {
  try {
    fn();
  } catch (e) {
    if (e instanceof KlpError) return e;
    throw e;
  }
  throw new Error('expected a KlpError');
}

describe('the cache directory contract', () => {
  it('is KLP_SPLIT_CACHE, else XDG_CACHE_HOME/klp-split, else HOME/.cache/klp-split', () => {
    expect(cacheDir({ KLP_SPLIT_CACHE: '/c', XDG_CACHE_HOME: '/x', HOME: '/h' })).toBe('/c');
    expect(cacheDir({ XDG_CACHE_HOME: '/x', HOME: '/h' })).toBe('/x/klp-split');
    expect(cacheDir({ HOME: '/h' })).toBe('/h/.cache/klp-split');
  });

  it('is an environment error naming the variable when HOME is missing or not absolute', () => {
    const e = problem(() => cacheDir({}));
    expect(e.code).toBe('cache-dir-missing');
    expect(e.exit).toBe(2);
    expect(e.message).toContain('HOME');
    expect(problem(() => cacheDir({ HOME: 'rel' })).message).toContain('$HOME');
  });

  it('is an environment error naming the directory when it cannot be created or written', () => {
    writeFileSync(join(root, 'file'), '');
    const e = problem(() => ensureCacheDir({ HOME: join(root, 'file') }));
    expect(e.code).toBe('cache-dir-unwritable');
    expect(e.file).toBe(join(root, 'file', '.cache', 'klp-split'));
    expect(ensureCacheDir({ KLP_SPLIT_CACHE: join(root, 'ok') })).toBe(join(root, 'ok'));
    const ro = join(root, 'ro');
    ensureCacheDir({ KLP_SPLIT_CACHE: ro });
    chmodSync(ro, 0o555);
    // root ignores permission bits; the refusal is only observable as another user.
    if (process.getuid?.() !== 0) expect(problem(() => ensureCacheDir({ KLP_SPLIT_CACHE: ro })).code).toBe('cache-dir-unwritable');
  });
});

import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, linkSync, mkdirSync, statSync, unlinkSync, type ReadStream } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { KlpError } from '@klp-split/core';

/** Nx's task hashes are decimal or hex digits; anything else never becomes a file name. */
const HASH = /^[A-Za-z0-9_-]{1,128}$/;

export const isCacheHash = (hash: string): boolean => HASH.test(hash);

type PutResult = 'stored' | 'exists' | 'short-body';

/**
 * One file per task hash in a directory that may be a network share used by
 * several machines at once. A record is written to a private temporary file
 * and then hard-linked to its name: linking fails if the name exists, so a
 * record is never overwritten or seen half-written, whichever machine wins.
 */
export class CacheStore {
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
    if (!statSync(dir).isDirectory()) throw new KlpError(`the cache directory is not a directory`, { code: 'cache-dir', file: dir });
  }

  private file(hash: string): string {
    if (!isCacheHash(hash)) throw new KlpError(`not a task hash: ${JSON.stringify(hash)}`, { code: 'cache-hash' });
    return join(this.dir, hash);
  }

  has(hash: string): boolean {
    return existsSync(this.file(hash));
  }

  /** The record and its size, or undefined when there is none. */
  open(hash: string): { size: number; stream: ReadStream } | undefined {
    const file = this.file(hash);
    if (!existsSync(file)) return undefined;
    return { size: statSync(file).size, stream: createReadStream(file) };
  }

  /** Stores exactly `length` bytes of `body` under `hash`; a shorter body stores nothing. */
  async put(hash: string, length: number, body: Readable): Promise<PutResult> {
    const file = this.file(hash);
    if (existsSync(file)) return 'exists';
    const tmp = join(this.dir, `.tmp-${hash}-${randomBytes(6).toString('hex')}`);
    try {
      await pipeline(body, createWriteStream(tmp, { flags: 'wx' }));
      if (statSync(tmp).size !== length) return 'short-body';
      try {
        linkSync(tmp, file);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') return 'exists';
        throw e;
      }
      return 'stored';
    } finally {
      if (existsSync(tmp)) unlinkSync(tmp);
    }
  }
}

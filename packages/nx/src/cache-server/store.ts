import { randomBytes } from 'node:crypto';
import { constants, mkdirSync, statSync, type Stats } from 'node:fs';
import { link, lstat, open, opendir, unlink, type FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { KlpError } from '@klp-split/core';

/** Nx's task hashes are decimal or hex digits; anything else never becomes a file name. */
const HASH = /^[A-Za-z0-9_-]{1,128}$/;

export const isCacheHash = (hash: string): boolean => HASH.test(hash);

/** A record to send: its size and a stream of exactly that many bytes. */
export interface OpenRecord {
  size: number;
  stream: Readable;
}

export type GetResult = { kind: 'record'; record: OpenRecord } | { kind: 'miss' } | { kind: 'not-a-record'; what: string };
export type PutResult = 'stored' | 'exists' | 'short-body' | 'no-space' | 'aborted';

/** What an entry of the share is, for a one-line log. */
function kindOf(s: Stats): string {
  if (s.isSymbolicLink()) return 'a symbolic link';
  if (s.isDirectory()) return 'a directory';
  if (s.isFIFO()) return 'a FIFO';
  if (s.isSocket()) return 'a socket';
  if (s.isCharacterDevice() || s.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

const code = (e: unknown): string | undefined => (e as NodeJS.ErrnoException | undefined)?.code;
const NO_SPACE = new Set(['ENOSPC', 'EDQUOT', 'EFBIG']);

/** The leftover of an upload: `.tmp-<random>-<pid>@<host>` (older servers: any `.tmp-` name). */
const TEMP = /^\.tmp-/;
const TEMP_OWNER = /^\.tmp-[0-9a-f]+-(\d+)@(.+)$/;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return code(e) === 'EPERM';
  }
}

/**
 * One file per task hash in a directory that may be a network share used by
 * several machines at once. Only regular files are records: a symbolic
 * link, a directory, a FIFO or a device under a hash's name is never opened
 * (a FIFO would block a worker thread of the server for ever), and a
 * record that cannot be read is an error of that request, never of the
 * server. A record is written to a private temporary file, flushed, then
 * hard-linked to its name: linking fails if the name exists, so a record
 * is never overwritten or seen half-written, whichever machine wins.
 */
export class CacheStore {
  private readonly host = hostname();

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
    if (!statSync(dir).isDirectory()) throw new KlpError(`the cache directory is not a directory`, { code: 'cache-dir', file: dir });
  }

  private file(hash: string): string {
    if (!isCacheHash(hash)) throw new KlpError(`not a task hash: ${JSON.stringify(hash)}`, { code: 'cache-hash' });
    return join(this.dir, hash);
  }

  /** Whether anything, of any kind, has the hash's name: a PUT never replaces it. */
  async exists(hash: string): Promise<boolean> {
    try {
      await lstat(this.file(hash));
      return true;
    } catch (e) {
      if (code(e) === 'ENOENT') return false;
      throw e;
    }
  }

  /** The record, a miss, or an entry that is no record. Errors reading it (EACCES, EIO) are thrown. */
  async get(hash: string): Promise<GetResult> {
    const file = this.file(hash);
    let before: Stats;
    try {
      before = await lstat(file);
    } catch (e) {
      if (code(e) === 'ENOENT') return { kind: 'miss' };
      throw e;
    }
    if (!before.isFile()) return { kind: 'not-a-record', what: kindOf(before) };
    let fh: FileHandle;
    try {
      // O_NOFOLLOW and O_NONBLOCK: an entry swapped for a link or a FIFO since the lstat opens as neither.
      fh = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (e) {
      if (code(e) === 'ENOENT') return { kind: 'miss' };
      if (code(e) === 'ELOOP') return { kind: 'not-a-record', what: 'a symbolic link' };
      throw e;
    }
    try {
      const s = await fh.stat();
      if (!s.isFile() || s.ino !== before.ino || s.dev !== before.dev) {
        await fh.close();
        return { kind: 'not-a-record', what: s.isFile() ? 'replaced while it was opened' : kindOf(s) };
      }
      if (s.size === 0) {
        await fh.close();
        return { kind: 'record', record: { size: 0, stream: Readable.from([]) } };
      }
      // Exactly the size announced: bytes appended later are not sent (the server ends a record cut short with an error).
      return { kind: 'record', record: { size: s.size, stream: fh.createReadStream({ start: 0, end: s.size - 1 }) } };
    } catch (e) {
      await fh.close().catch(() => undefined);
      throw e;
    }
  }

  private tempName(): string {
    return join(this.dir, `.tmp-${randomBytes(6).toString('hex')}-${process.pid}@${this.host}`);
  }

  /**
   * Stores exactly `length` bytes of `body` under `hash`. A shorter body, a
   * full disk or any error stores nothing and leaves no temporary file.
   */
  async put(hash: string, length: number, body: Readable): Promise<PutResult> {
    const file = this.file(hash);
    if (await this.exists(hash)) return 'exists';
    const tmp = this.tempName();
    let fh: FileHandle | undefined;
    try {
      fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
      let bytes = 0;
      try {
        // One write at a time: the body is read no faster than the disk takes it.
        for await (const chunk of body as AsyncIterable<Buffer>) {
          bytes += chunk.length;
          if (bytes > length) return 'short-body';
          await fh.write(chunk);
        }
      } catch (e) {
        // The client went away in the middle of its body.
        if (body.destroyed && !NO_SPACE.has(code(e) ?? '')) return 'aborted';
        throw e;
      }
      if (bytes !== length) return 'short-body';
      await fh.sync();
      await fh.close();
      fh = undefined;
      try {
        await link(tmp, file);
      } catch (e) {
        if (code(e) === 'EEXIST') return 'exists';
        throw e;
      }
      await this.syncDir();
      return 'stored';
    } catch (e) {
      if (NO_SPACE.has(code(e) ?? '')) return 'no-space';
      throw e;
    } finally {
      await fh?.close().catch(() => undefined);
      await unlink(tmp).catch(() => undefined);
    }
  }

  private async syncDir(): Promise<void> {
    try {
      const d = await open(this.dir, constants.O_RDONLY | constants.O_DIRECTORY);
      await d.sync().finally(() => d.close());
    } catch {
      // Some file systems refuse fsync on a directory; the record itself was synced.
    }
  }

  /**
   * Removes the temporary files of uploads that can no longer finish: this
   * machine's whose server process is gone, and anyone's older than
   * `staleMs` (no upload lasts longer than the server's request timeout).
   * Returns how many it removed.
   */
  async sweep(staleMs: number): Promise<number> {
    let removed = 0;
    const now = Date.now();
    for await (const e of await opendir(this.dir)) {
      if (!TEMP.test(e.name)) continue;
      const p = join(this.dir, e.name);
      const owner = TEMP_OWNER.exec(e.name);
      let dead = owner !== null && owner[2] === this.host && Number(owner[1]) !== process.pid && !alive(Number(owner[1]));
      if (!dead) {
        try {
          dead = now - (await lstat(p)).mtimeMs > staleMs;
        } catch {
          continue;
        }
      }
      if (dead && (await unlink(p).then(() => true, () => false))) removed++;
    }
    return removed;
  }
}

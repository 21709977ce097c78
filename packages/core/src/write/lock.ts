import { closeSync, constants, existsSync, fsyncSync, linkSync, lstatSync, openSync, readFileSync, readSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { KlpError, fromSystemError, isSystemError } from '../errors.js';
import { LOCK_FILE } from './names.js';

/** How long a run waits for another klp-split writing the same directory before refusing. */
const LOCK_WAIT_MS = 10_000;
/** A lock file without readable content (its writer died between create and write) is taken over after this long. */
const EMPTY_LOCK_GRACE_MS = 5_000;
/** More than any lock klp-split writes (`pid <n> start <ticks>\n`). */
const LOCK_MAX_BYTES = 256;

interface Holder {
  pid: number;
  /** Process start time in clock ticks since boot (/proc/<pid>/stat field 22): tells a reused pid from the holder. */
  start: string;
}

function startTime(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // The command name (field 2) may contain spaces and parentheses: count from the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
  } catch {
    return '';
  }
}

function alive(h: Holder): boolean {
  try {
    process.kill(h.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const now = startTime(h.pid);
  return !now || !h.start || now === h.start;
}

function parseHolder(text: string): Holder | undefined {
  const m = /^pid (\d+) start (\S*)\n$/.exec(text);
  return m ? { pid: Number(m[1]), start: m[2]! } : undefined;
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** A lock's few bytes; never follows a link or blocks on a FIFO put there meanwhile. */
function readLock(path: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const buf = Buffer.alloc(LOCK_MAX_BYTES);
    return buf.toString('latin1', 0, readSync(fd, buf, 0, LOCK_MAX_BYTES, 0));
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/**
 * What is at the lock's path when it cannot be created: `regular` (read it),
 * `gone` (released meanwhile: try again), or something no klp-split writes
 * (a directory, a symbolic link, a FIFO...), which waiting will not change.
 * Read with lstat, never opened: a FIFO would block, a link may point anywhere.
 */
function lockKind(path: string): 'regular' | 'gone' | string {
  let st;
  try {
    st = lstatSync(path);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'gone' : `unreadable (${(e as NodeJS.ErrnoException).code ?? 'error'})`;
  }
  if (st.isFile()) return 'regular';
  if (st.isSymbolicLink()) return existsSync(path) ? 'a symbolic link' : 'a dangling symbolic link';
  if (st.isDirectory()) return 'a directory';
  return 'not a regular file (a FIFO, socket or device)';
}

/**
 * Moves a dead holder's lock aside. Renaming first means two runs that both
 * found it dead cannot both remove it: the loser renames either nothing or
 * the winner's fresh lock, which it sees and puts back.
 */
function takeOver(path: string, seen: string): boolean {
  const aside = `${path}.takeover-${process.pid}`;
  try {
    renameSync(path, aside);
  } catch (e) {
    // Gone meanwhile: retry; anything else (no permission to rename): it stays.
    return (e as NodeJS.ErrnoException).code === 'ENOENT';
  }
  if (readLock(aside) !== seen) {
    try {
      linkSync(aside, path);
    } catch {
      // A third run already locked again; the displaced holder is the rare loser of a three-way race.
    }
  }
  try {
    unlinkSync(aside);
  } catch {
    /* gone already */
  }
  return true;
}

interface DirLock {
  release(): void;
}

/**
 * Locks a directory for writing with `<dir>/.klp-split.lock`, created with
 * O_EXCL and holding our pid and start time. A live holder is waited for up
 * to `waitMs`, then refused (exit 2); a dead holder's lock is taken over (the
 * caller then recovers its unfinished write).
 */
export function lockDir(dir: string, opts: { waitMs?: number } = {}): DirLock {
  const path = join(dir, LOCK_FILE);
  const mine = `pid ${process.pid} start ${startTime(process.pid)}\n`;
  const deadline = Date.now() + (opts.waitMs ?? LOCK_WAIT_MS);
  let holder: Holder | undefined;
  for (;;) {
    let fd: number | undefined;
    try {
      fd = openSync(path, 'wx', 0o644);
      writeSync(fd, mine);
      fsyncSync(fd);
      const done = fd;
      fd = undefined;
      closeSync(done);
      break;
    } catch (e) {
      if (fd !== undefined) {
        // Created but not written (a full disk): an empty lock must not stay behind.
        closeSync(fd);
        unlinkSync(path);
      }
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
        if (isSystemError(e)) throw fromSystemError(e, `cannot lock ${dir}`);
        throw e;
      }
    }
    const kind = lockKind(path);
    if (kind === 'gone') {
      // Released meanwhile; the pause keeps a file system that says EEXIST and then ENOENT from spinning us.
      sleep(1);
      continue;
    }
    if (kind !== 'regular') {
      throw new KlpError(`${path} is ${kind}, not a klp-split lock; refusing to write ${dir}`, {
        code: 'lock-not-a-file',
        file: path,
        hint: `if no klp-split is running, remove ${path}`,
      });
    }
    const seen = readLock(path);
    // A lock that cannot be read (permissions) counts as held: waited for, then refused, never spun on.
    holder = seen === undefined ? undefined : parseHolder(seen);
    let stale = false;
    if (holder) stale = !alive(holder);
    else if (seen !== undefined) {
      let age = 0;
      try {
        age = Date.now() - statSync(path).mtimeMs;
      } catch {
        continue;
      }
      stale = age > EMPTY_LOCK_GRACE_MS;
    }
    // A takeover that moved the lock aside retries at once; one that could not (no write permission) waits like a live holder.
    if (stale && takeOver(path, seen!)) continue;
    if (Date.now() >= deadline) {
      const who = seen === undefined ? `${path} cannot be read` : `another klp-split (pid ${holder?.pid ?? '?'}) is writing ${dir}`;
      throw new KlpError(seen === undefined ? `${who}; refusing to write ${dir}` : who, {
        code: 'dir-locked',
        ...(seen === undefined ? { file: path } : {}),
        hint: `wait for it to finish; if no klp-split is running, remove ${path}`,
      });
    }
    sleep(50);
  }
  return {
    release(): void {
      // Only our own lock: never one a takeover handed to someone else.
      if (existsSync(path) && readLock(path) === mine) unlinkSync(path);
    },
  };
}

import { closeSync, existsSync, fsyncSync, linkSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { KlpError, fromSystemError, isSystemError } from '../errors.js';
import { LOCK_FILE } from './names.js';

/** How long a run waits for another klp-split writing the same directory before refusing. */
const LOCK_WAIT_MS = 10_000;
/** A lock file without readable content (its writer died between create and write) is taken over after this long. */
const EMPTY_LOCK_GRACE_MS = 5_000;

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

function readLock(path: string): string | undefined {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return undefined;
  }
}

/**
 * Moves a dead holder's lock aside. Renaming first means two runs that both
 * found it dead cannot both remove it: the loser renames either nothing or
 * the winner's fresh lock, which it sees and puts back.
 */
function takeOver(path: string, seen: string): void {
  const aside = `${path}.takeover-${process.pid}`;
  try {
    renameSync(path, aside);
  } catch {
    return;
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
    const seen = readLock(path);
    if (seen === undefined) continue;
    holder = parseHolder(seen);
    let stale: boolean;
    if (holder) stale = !alive(holder);
    else {
      let age = 0;
      try {
        age = Date.now() - statSync(path).mtimeMs;
      } catch {
        continue;
      }
      stale = age > EMPTY_LOCK_GRACE_MS;
    }
    if (stale) {
      takeOver(path, seen);
      continue;
    }
    if (Date.now() >= deadline) {
      throw new KlpError(`another klp-split (pid ${holder?.pid ?? '?'}) is writing ${dir}`, {
        code: 'dir-locked',
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

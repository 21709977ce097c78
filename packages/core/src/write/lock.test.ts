import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KlpError } from '../errors.js';
import { lockDir } from './lock.js';
import { LOCK_FILE } from './names.js';

let dir: string;
let child: ChildProcess | undefined;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'klp-lock-'));
});
afterEach(() => {
  if (child?.pid) process.kill(child.pid, 'SIGKILL');
  child = undefined;
  rmSync(dir, { recursive: true, force: true });
});

function startTicks(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
}

describe('lockDir', () => {
  it('creates the lock with our pid and removes it on release', () => {
    const lock = lockDir(dir);
    expect(readFileSync(join(dir, LOCK_FILE), 'latin1')).toMatch(new RegExp(`^pid ${process.pid} start \\d+\\n$`));
    lock.release();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
  });

  it('refuses while a live process holds the lock, naming its pid (exit 2)', async () => {
    child = spawn('sleep', ['30']);
    await new Promise((r) => child!.once('spawn', r));
    writeFileSync(join(dir, LOCK_FILE), `pid ${child.pid} start ${startTicks(child.pid!)}\n`);
    let err: unknown;
    try {
      lockDir(dir, { waitMs: 200 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KlpError);
    expect((err as KlpError).exit).toBe(2);
    expect((err as KlpError).message).toBe(`another klp-split (pid ${child.pid}) is writing ${dir}`);
    expect(readFileSync(join(dir, LOCK_FILE), 'latin1')).toContain(`pid ${child.pid} `);
  });

  it('takes over the lock of a dead process, and of a reused pid (other start time)', async () => {
    const dead = spawn('true');
    await new Promise((r) => dead.once('exit', r));
    writeFileSync(join(dir, LOCK_FILE), `pid ${dead.pid} start 1\n`);
    lockDir(dir, { waitMs: 0 }).release();
    // Our own pid with another start time: a process that died and whose pid came back.
    writeFileSync(join(dir, LOCK_FILE), `pid ${process.pid} start 1\n`);
    lockDir(dir, { waitMs: 0 }).release();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
  });
});

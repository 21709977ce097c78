import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, removeDir, samples, tempDir } from '../helpers/env.js';

/**
 * Issue 20: a `.klp-split.lock` that no klp-split wrote (a dangling
 * symbolic link, a directory, a FIFO, a file the user cannot read) made
 * `split` spin at 100% CPU forever. Each must be refused within the
 * documented wait (10 s), exit 2, with a message naming the lock, and
 * without spinning: the command's CPU time (bash's `time` of the real
 * process) stays far below its wall time.
 */

const LOCK = '.klp-split.lock';
const WAIT_S = 10;
let work: string;
let source: string;

beforeAll(() => {
  work = tempDir('lock-refusals');
  // Writable by the run as nobody below (its timing files).
  chmodSync(work, 0o1777);
  source = join(work, 'livepatch-sample.c');
  copyFileSync(samples('livepatch-sample.c'), source);
  chmodSync(source, 0o644);
});
afterAll(() => removeDir(work));

interface Timed {
  code: number;
  stderr: string;
  wall: number;
  cpu: number;
}

/** `klp-split split` into `out`, timed by bash (user + system CPU of the process and its children), as `uid` when given. */
function timedSplit(out: string, uid?: number): Promise<Timed> {
  const script = `TIMEFORMAT='%R %U %S'; { time node "$0" split "$1" --out "$2" --all-includes 2>"$3.err" ; } 2>"$3.time"; echo $? > "$3.rc"`;
  const stem = join(work, `run-${Math.random().toString(36).slice(2)}`);
  return new Promise((resolve, reject) => {
    // A hang must fail the test, not the suite's timeout: the process is killed after 3 times the documented wait.
    const child = spawn('bash', ['-c', script, CLI, source, out, stem], { stdio: 'ignore', env: { ...process.env, CI: 'true' }, ...(uid === undefined ? {} : { uid, gid: uid }) });
    const timer = setTimeout(() => child.kill('SIGKILL'), 3 * WAIT_S * 1000);
    child.on('error', reject);
    child.on('exit', () => {
      clearTimeout(timer);
      if (!existsSync(`${stem}.rc`)) return resolve({ code: -1, stderr: 'killed: the command did not end', wall: 3 * WAIT_S, cpu: NaN });
      const [wall, user, sys] = readFileSync(`${stem}.time`, 'utf8').trim().split(/\s+/).map(Number);
      resolve({ code: Number(readFileSync(`${stem}.rc`, 'utf8')), stderr: readFileSync(`${stem}.err`, 'utf8'), wall: wall!, cpu: user! + sys! });
    });
  });
}

function outDir(name: string, lock: (path: string) => void): string {
  const out = join(work, name);
  mkdirSync(out, { mode: 0o777 });
  chmodSync(out, 0o777);
  lock(join(out, LOCK));
  return out;
}

function expectRefused(r: Timed, out: string, what: RegExp): void {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr).toContain(join(out, LOCK));
  expect(r.stderr).toMatch(what);
  expect(r.stderr).not.toMatch(/^\s+at /m);
  expect(r.wall).toBeLessThan(WAIT_S + 5);
  // No spin: a process busy-waiting burns about as much CPU as wall time. Node's start and the split cost about a second.
  expect(r.cpu).toBeLessThan(Math.max(3, r.wall / 3));
}

describe('a lock that is not a klp-split lock is refused, never spun on (issue 20)', () => {
  // The case that waits out the documented wait starts first, alone; the other cases run one after another
  // while it waits (sleeping, so their processes do not slow it), and the last test reads its result.
  let unreadable: { out: string; run: Promise<Timed> };
  beforeAll(() => {
    const out = outDir('unreadable', (p) => {
      writeFileSync(p, 'pid 1 start 1\n');
      chmodSync(p, 0o000);
    });
    // Root reads every file: as root, run as nobody.
    unreadable = { out, run: timedSplit(out, process.getuid?.() === 0 ? 65534 : undefined) };
  });

  it('a dangling symbolic link', async () => {
    const out = outDir('dangling', (p) => symlinkSync(join(work, 'nowhere'), p));
    expectRefused(await timedSplit(out), out, /is a dangling symbolic link, not a klp-split lock; refusing to write .* \[lock-not-a-file\]/);
  });

  it('a symbolic link to a real file', async () => {
    writeFileSync(join(work, 'elsewhere'), `pid 1 start 1\n`);
    const out = outDir('link', (p) => symlinkSync(join(work, 'elsewhere'), p));
    expectRefused(await timedSplit(out), out, /is a symbolic link, not a klp-split lock/);
  });

  it('a directory', async () => {
    const out = outDir('directory', (p) => mkdirSync(p));
    expectRefused(await timedSplit(out), out, /is a directory, not a klp-split lock/);
  });

  it('a FIFO (opening it would block)', async () => {
    const out = outDir('fifo', (p) => execFileSync('mkfifo', [p]));
    expectRefused(await timedSplit(out), out, /is not a regular file \(a FIFO, socket or device\), not a klp-split lock/);
  });

  it('a file the user cannot read: waited for as a holder, refused after the documented wait', async () => {
    const r = await unreadable.run;
    expectRefused(r, unreadable.out, /cannot be read; refusing to write .* \[dir-locked\]/);
    expect(r.wall).toBeGreaterThanOrEqual(WAIT_S - 0.5);
  }, 60_000);
});

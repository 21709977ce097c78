import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, lstatSync, mkdirSync, readFileSync, readlinkSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/env.js';
import { describeFailure, fuzzSeed, noteCase, summary, type CaseOutcome } from './driver.js';
import type { Violation } from './oracles.js';
import { fuzzCases, fuzzSeeds, hex, type Rng } from './rng.js';
import { Sandbox } from './sandbox.js';

/**
 * Issue 20: whatever sits at `<dir>/.klp-split.lock` (a live or dead
 * holder's lock, garbage, nothing readable, a link, a directory, a FIFO, a
 * socket) and whoever runs (root, or a user who cannot read it or cannot
 * write the directory), taking the lock ends within the wait with the lock
 * taken or refused (exit 2, naming it), sleeps rather than spins while it
 * waits, and leaves what it refused alone. Each case runs lockDir() of the
 * built @klp-split/core in a process of its own, which measures its own CPU time.
 */

const CLASS = 'locks';
const SEEDS = fuzzSeeds([0x10c40001, 0x10c40002]);
const CASES = fuzzCases(8);
const WAIT_MS = 600;
const LOCK = '.klp-split.lock';
const NOBODY = 65534;

/** What the child prints: the outcome of lockDir() and its own wall and CPU time. */
interface Attempt {
  acquired?: boolean;
  error?: string;
  code?: string;
  exit?: number;
  message?: string;
  wallMs: number;
  cpuMs: number;
}

const CHILD = `
import { lockDir } from ${JSON.stringify(join(ROOT, 'packages/core/dist/write/lock.js'))};
const [dir, waitMs] = process.argv.slice(1);
const c0 = process.cpuUsage();
const t0 = performance.now();
let outcome;
try {
  const lock = lockDir(dir, { waitMs: Number(waitMs) });
  outcome = { acquired: true };
  lock.release();
} catch (e) {
  outcome = { error: e?.constructor?.name, code: e?.code, exit: e?.exit, message: typeof e?.format === 'function' ? e.format() : String(e?.stack ?? e) };
}
const c = process.cpuUsage(c0);
console.log(JSON.stringify({ ...outcome, wallMs: performance.now() - t0, cpuMs: (c.user + c.system) / 1000 }));
`;

type Expect = 'acquire' | 'refuse-now' | 'refuse-after-wait';

interface LockCase {
  what: string;
  expect: Expect;
  /** The refusal's code. */
  code?: string;
  asNobody?: boolean;
}

function startTicks(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
}

describe('fuzzing what sits at .klp-split.lock (issue 20)', () => {
  let sandbox: Sandbox;
  let holder: ChildProcess;
  let deadPid: number;

  beforeAll(async () => {
    sandbox = new Sandbox(CLASS);
    // The runs as nobody reach work/ through the sandbox.
    chmodSync(sandbox.root, 0o755);
    holder = spawn('sleep', ['600']);
    await new Promise((r) => holder.once('spawn', r));
    const dead = spawn('true');
    await new Promise((r) => dead.once('exit', r));
    deadPid = dead.pid!;
  });
  afterAll(() => {
    holder?.kill('SIGKILL');
    sandbox?.remove();
  });

  /** Puts one kind of thing at the lock path; returns what it is and what taking the lock must do. */
  function plant(rng: Rng, dir: string): LockCase {
    const lock = join(dir, LOCK);
    const old = (p: string): void => utimesSync(p, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    switch (rng.int(12)) {
      case 0:
        writeFileSync(lock, `pid ${holder.pid} start ${startTicks(holder.pid!)}\n`);
        return { what: 'a live holder', expect: 'refuse-after-wait', code: 'dir-locked' };
      case 1:
        // Start time 1 or 0 is no live process's (ticks since boot): a dead holder, or a pid reused since (even ours).
        writeFileSync(lock, `pid ${rng.pick([deadPid, process.pid])} start ${rng.pick(['1', '0'])}\n`);
        return { what: 'a dead holder (or a reused pid)', expect: 'acquire' };
      case 2: {
        const bytes = Buffer.from(Array.from({ length: rng.pick([0, 1, 7, 300, 1 << 20]) }, () => rng.int(256)));
        writeFileSync(lock, bytes);
        if (rng.chance(0.5)) {
          old(lock);
          return { what: `${bytes.length} bytes of garbage, a minute old`, expect: 'acquire' };
        }
        return { what: `${bytes.length} bytes of garbage, fresh`, expect: 'refuse-after-wait', code: 'dir-locked' };
      }
      case 3: {
        const target = rng.pick(['/nonexistent/klp', join(dir, LOCK), '/dev/zero', join(sandbox.paths().victim), sandbox.paths().dir]);
        symlinkSync(target, lock);
        return { what: `a symbolic link to ${target}`, expect: 'refuse-now', code: 'lock-not-a-file' };
      }
      case 4:
        mkdirSync(lock);
        if (rng.chance(0.5)) writeFileSync(join(lock, 'inside'), 'x');
        return { what: 'a directory', expect: 'refuse-now', code: 'lock-not-a-file' };
      case 5:
        execFileSync('mkfifo', [lock]);
        return { what: 'a FIFO', expect: 'refuse-now', code: 'lock-not-a-file' };
      case 6:
        execFileSync('python3', ['-c', 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', lock]);
        return { what: 'a unix socket', expect: 'refuse-now', code: 'lock-not-a-file' };
      case 7:
      case 8:
        writeFileSync(lock, rng.chance(0.5) ? `pid ${holder.pid} start ${startTicks(holder.pid!)}\n` : 'pid 1 start 1\n');
        chmodSync(lock, 0o000);
        return { what: 'a lock the user cannot read', expect: 'refuse-after-wait', code: 'dir-locked', asNobody: true };
      case 9:
        chmodSync(dir, 0o555);
        return { what: 'a directory the user cannot write', expect: 'refuse-now', code: 'io-eacces', asNobody: true };
      case 10:
        writeFileSync(lock, '');
        old(lock);
        return { what: 'an empty lock a minute old (its writer died before writing)', expect: 'acquire' };
      default:
        return { what: 'nothing', expect: 'acquire' };
    }
  }

  /** What is at `path` (type, and link target or contents), to tell whether a refusal touched it. */
  function state(path: string): string {
    const st = lstatSync(path, { throwIfNoEntry: false });
    if (!st) return 'absent';
    if (st.isSymbolicLink()) return `link ${readlinkSync(path)}`;
    if (st.isFile()) return `file ${st.size} ${st.mode}`;
    return `${st.isDirectory() ? 'dir' : 'special'} ${st.mode}`;
  }

  const runCase = async (rng: Rng): Promise<CaseOutcome> => {
    const dir = join(sandbox.work, 'out');
    mkdirSync(dir, { mode: 0o777 });
    chmodSync(dir, 0o777);
    chmodSync(sandbox.work, 0o755);
    const c = plant(rng, dir);
    noteCase(sandbox, c.what);
    const before = state(join(dir, LOCK));
    // Far above any wait: a child still running then hangs (node's own start is slow on a loaded machine).
    const bound = WAIT_MS + 20_000;
    // Root reads and writes everything: the cases of a user who cannot run as nobody (as themselves otherwise).
    const asNobody = c.asNobody && process.getuid?.() === 0;
    const r = await execa('node', ['--input-type=module', '-e', CHILD, dir, String(WAIT_MS)], { reject: false, timeout: bound, killSignal: 'SIGKILL', ...(asNobody ? { uid: NOBODY, gid: NOBODY } : {}) });
    chmodSync(dir, 0o777);
    const violations: Violation[] = [];
    const what = `${c.what}${c.asNobody ? ' (as nobody)' : ''}`;
    if (r.timedOut) return { what, violations: [{ kind: 'hang', detail: `lockDir() did not end in ${bound} ms` }], commands: [] };
    let a: Attempt;
    try {
      a = JSON.parse(String(r.stdout)) as Attempt;
    } catch {
      return { what, violations: [{ kind: 'escaped-exception', detail: `the child said: ${String(r.stdout).slice(0, 200)} ${String(r.stderr).slice(0, 300)}` }], commands: [] };
    }
    if (a.error && a.error !== 'KlpError') violations.push({ kind: 'escaped-exception', detail: `${a.error}: ${a.message?.split('\n')[0]}` });
    if (a.message && /^\s+at /m.test(a.message)) violations.push({ kind: 'stack-trace', detail: a.message.split('\n')[0]! });
    if (c.expect === 'acquire' && !a.acquired) violations.push({ kind: 'content', detail: `refused (${a.code}): ${a.message}` });
    if (c.expect !== 'acquire') {
      if (a.acquired) violations.push({ kind: 'content', detail: 'took the lock' });
      else {
        if (a.exit !== 2) violations.push({ kind: 'exit-code', detail: `exit ${a.exit} (${a.code})` });
        if (a.code !== c.code) violations.push({ kind: 'content', detail: `refused with [${a.code}], expected [${c.code}]: ${a.message}` });
        if (!a.message?.includes(dir)) violations.push({ kind: 'content', detail: `the refusal does not name ${dir}: ${a.message}` });
        const after = state(join(dir, LOCK));
        if (after !== before) violations.push({ kind: 'write-outside', detail: `the refused lock path changed: ${before} -> ${after}` });
      }
    }
    // lockDir()'s own time, measured in the child: the wait, and scheduling delays of a loaded machine.
    const limit = c.expect === 'refuse-now' ? 2000 : WAIT_MS + 3000;
    if (a.wallMs > limit) violations.push({ kind: 'hang', detail: `took ${Math.round(a.wallMs)} ms (bound ${limit} ms)` });
    if (c.expect === 'refuse-after-wait' && a.wallMs < WAIT_MS - 50) violations.push({ kind: 'content', detail: `refused after ${Math.round(a.wallMs)} ms, before the wait of ${WAIT_MS} ms` });
    // A sleeping wait costs a few milliseconds of CPU; a spinning one costs its whole wall time.
    if (a.cpuMs > Math.max(150, a.wallMs * 0.3)) violations.push({ kind: 'spin', detail: `${Math.round(a.cpuMs)} ms of CPU in ${Math.round(a.wallMs)} ms` });
    return { what, violations, commands: [] };
  };

  it.each(SEEDS.map(hex))(`${CASES.length} lock paths, seed %s: taken or refused within the wait, never spun on`, async (seedText) => {
    const { failures, figures } = await fuzzSeed(CLASS, Number(seedText), CASES, sandbox, runCase);
    console.log(summary(figures));
    expect(failures.slice(0, 15).map((f) => describeFailure(CLASS, f))).toEqual([]);
  }, 300_000);
});

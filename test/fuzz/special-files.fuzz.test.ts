import { cpSync, mkdirSync, rmSync, symlinkSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { samples } from '../helpers/env.js';
import { builtSplit, copyBuilt, type BuiltSplit } from './built-fixture.js';
import { describeFailure, judge, noteCase, type Failure } from './driver.js';
import { runInProcess, runSubprocess } from './run.js';
import { Sandbox } from './sandbox.js';

/**
 * Inputs that are not regular files, and outputs that cannot be written:
 * a FIFO, /dev/zero, a directory in place of a source, .ko, manifest,
 * build record, scenario or Makefile; --out naming a file or a path under
 * one; a --report on a full disk (/dev/full). Each runs in a child process
 * bounded in time and memory, but for the cases of a directory where a file
 * belongs (and an include cycle), which no read can block on or fill memory
 * with: they run in this process (as most fuzz classes do, run.ts), where
 * the trace of the run's file accesses adds its oracle. Oracles: the common ones (a hang or a
 * memory blow-up is a failure, so is a trace or exit 3), and a report on a
 * full disk never leaves a 0-byte file claiming success. (Read-only
 * directories and an unwritable HOME are left out: the suite runs as root,
 * for whom permissions do not apply.)
 */

const CLASS = 'special';
/**
 * A special file is refused before it is read, in well under a second; what
 * this bound catches is a reader blocked for good (a FIFO opened for reading),
 * so it is generous enough that a loaded machine never trips it.
 */
const BOUND_MS = Number(process.env.FUZZ_SPECIAL_BOUND_MS ?? 60_000);

interface Special {
  what: string;
  /** Prepares the case in work/ and returns the command. */
  make: (work: string, b: BuiltSplit) => string[];
  /** Directories the command may write in (relative to work). */
  allowed?: string[];
  /** Run in this process: nothing in the case can block a read or fill memory. */
  inProcess?: boolean;
}

const fifo = (p: string): string => {
  execFileSync('mkfifo', [p]);
  return p;
};

const CASES: Special[] = [
  { what: 'split of a FIFO', make: (w) => ['split', fifo(join(w, 'fix.c')), '--out', join(w, 'out')], allowed: ['out'] },
  { what: 'split of /dev/zero', make: (w) => ['split', '/dev/zero', '--out', join(w, 'out')], allowed: ['out'] },
  { what: 'split of a directory', make: (w) => (mkdirSync(join(w, 'd.c')), ['split', join(w, 'd.c'), '--out', join(w, 'out')]), allowed: ['out'], inProcess: true },
  { what: 'split with --out naming a file', make: (w) => (writeFileSync(join(w, 'file'), 'x'), ['split', samples('livepatch-shadow-fix1.c'), '--out', join(w, 'file')]) },
  { what: 'split with --out under a file (ENOTDIR)', make: (w) => (writeFileSync(join(w, 'file'), 'x'), ['split', samples('livepatch-shadow-fix1.c'), '--out', join(w, 'file/out')]) },
  { what: 'verify with a FIFO as --target', make: (w, b) => ['verify', copyBuilt(b, join(w, 'out')), '--target', fifo(join(w, 't.ko'))] },
  { what: 'verify with /dev/zero as --target', make: (w, b) => ['verify', copyBuilt(b, join(w, 'out')), '--target', '/dev/zero'] },
  { what: 'verify with a directory as --target', make: (w, b) => (mkdirSync(join(w, 'd.ko')), ['verify', copyBuilt(b, join(w, 'out')), '--target', join(w, 'd.ko')]), inProcess: true },
  { what: 'verify with a FIFO as the manifest', make: (w, b) => { const o = copyBuilt(b, join(w, 'out')); rmSync(join(o, 'klp-split.json')); fifo(join(o, 'klp-split.json')); return ['verify', o, '--target', b.target]; } },
  { what: 'verify with /dev/zero as the build record', make: (w, b) => { const o = copyBuilt(b, join(w, 'out')); rmSync(join(o, '.klp-split/build.json')); symlinkSync('/dev/zero', join(o, '.klp-split/build.json')); return ['verify', o, '--target', b.target]; } },
  { what: 'verify with a directory as the build record', make: (w, b) => { const o = copyBuilt(b, join(w, 'out')); rmSync(join(o, '.klp-split/build.json')); mkdirSync(join(o, '.klp-split/build.json')); return ['verify', o, '--target', b.target]; }, inProcess: true },
  { what: 'verify with a .ko that is /dev/zero', make: (w, b) => { const o = copyBuilt(b, join(w, 'out')); rmSync(join(o, 'livepatch-shadow-fix1.ko')); symlinkSync('/dev/zero', join(o, 'livepatch-shadow-fix1.ko')); return ['verify', o, '--target', b.target]; } },
  { what: 'verify --report on a full disk (/dev/full)', make: (w, b) => { symlinkSync('/dev/full', join(w, 'report.json')); return ['verify', copyBuilt(b, join(w, 'out')), '--target', b.target, '--no-explore', '--report', join(w, 'report.json')]; } },
  { what: 'verify --report under a file', make: (w, b) => (writeFileSync(join(w, 'file'), 'x'), ['verify', copyBuilt(b, join(w, 'out')), '--target', b.target, '--no-explore', '--report', join(w, 'file/report.json')]) },
  { what: 'simulate with a FIFO as the scenario', make: (w, b) => ['simulate', b.dir, '--target', b.target, '--scenario', fifo(join(w, 'steps.txt'))] },
  { what: 'simulate with /dev/zero as the scenario', make: (w, b) => ['simulate', b.dir, '--target', b.target, '--scenario', '/dev/zero'] },
  { what: 'simulate with a directory as the scenario', make: (w, b) => (mkdirSync(join(w, 'steps')), ['simulate', b.dir, '--target', b.target, '--scenario', join(w, 'steps')]), inProcess: true },
  { what: 'convert with a directory as the Makefile', make: (w) => { const d = join(w, 'dir'); mkdirSync(join(d, 'Makefile'), { recursive: true }); cpSync(samples('livepatch-shadow-fix1.c'), join(d, 'livepatch-shadow-fix1.c')); return ['convert', d, '--all-includes']; }, allowed: ['dir'], inProcess: true },
  { what: 'convert with a FIFO as the Makefile', make: (w) => { const d = join(w, 'dir'); mkdirSync(d); fifo(join(d, 'Makefile')); cpSync(samples('livepatch-shadow-fix1.c'), join(d, 'livepatch-shadow-fix1.c')); return ['convert', d, '--all-includes']; }, allowed: ['dir'] },
  { what: 'convert with a FIFO as a source', make: (w) => { const d = join(w, 'dir'); mkdirSync(d); cpSync(samples('Makefile'), join(d, 'Makefile')); fifo(join(d, 'livepatch-x.c')); return ['convert', d, '--all-includes']; }, allowed: ['dir'] },
  { what: 'split with an include cycle', make: (w) => { writeFileSync(join(w, 'a.c'), '#include "b.c"\n'); writeFileSync(join(w, 'b.c'), '#include "a.c"\n'); return ['split', join(w, 'a.c'), '--out', join(w, 'out')]; }, allowed: ['out'], inProcess: true },
];

describe('special files and unwritable outputs', () => {
  let sandbox: Sandbox;
  let built: BuiltSplit;
  beforeAll(async () => {
    sandbox = new Sandbox(CLASS);
    built = await builtSplit();
  });
  afterAll(() => {
    // Read-only directories made by the cases.
    execFileSync('chmod', ['-R', 'u+w', sandbox.root]);
    sandbox?.remove();
  });

  it(`${CASES.length} special inputs and outputs: no hang, no trace, exit 0, 1 or 2`, { timeout: 600_000 }, async () => {
    const failures: Failure[] = [];
    const byKind: Record<string, number> = {};
    for (const [index, c] of CASES.entries()) {
      execFileSync('chmod', ['-R', 'u+w', sandbox.work]);
      sandbox.clearWork();
      noteCase(sandbox, c.what);
      const args = c.make(sandbox.work, built);
      const allowed = (c.allowed ?? []).map((a) => join(sandbox.work, a));
      // Nothing writes to a FIFO's other end: a reader that opens it blocking hangs until the time bound.
      const { r, violations } = await judge(sandbox, allowed, () => (c.inProcess ? runInProcess(args) : runSubprocess(args, { timeoutMs: BOUND_MS })), { timeBoundMs: BOUND_MS });
      if (c.what.includes('full disk') && r.code === 0) violations.push({ kind: 'content', detail: 'verify --report on a full disk exited 0' });
      if (violations.length) {
        for (const k of new Set(violations.map((v) => v.kind))) byKind[k] = (byKind[k] ?? 0) + 1;
        failures.push({ seed: 0, index, what: c.what, violations });
      }
    }
    if (process.env.FUZZ_REPORT) appendFileSync(process.env.FUZZ_REPORT, `${JSON.stringify({ class: CLASS, seed: '-', inputs: CASES.length, failingInputs: failures.length, byKind, examples: failures.slice(0, 5).map((f) => describeFailure(CLASS, f)), ms: 0 })}\n`);
    console.log(`[${CLASS}] ${CASES.length} inputs, ${failures.length} failing ${JSON.stringify(byKind)}`);
    expect(failures.map((f) => `${f.what}: ${f.violations.map((v) => `${v.kind}: ${v.detail}`).join('; ')}`)).toEqual([]);
  });
});

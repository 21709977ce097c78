import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { traced } from './fs-trace.js';
import { checkAccesses, checkRun } from './oracles.js';
import { caseRng } from './rng.js';
import { fenceFor, runInProcess, type RunResult } from './run.js';
import { diffSnapshots, Sandbox } from './sandbox.js';

/** The fuzz harness's own oracles can fail: each one on a run made to break it. */
describe('the fuzz harness', () => {
  const sandbox = new Sandbox('harness');
  afterAll(() => sandbox.remove());
  const run = (over: Partial<RunResult>): RunResult => ({ args: [], code: 0, timedOut: false, stdout: '', stderr: '', ms: 1, ...over });

  it('replays a case from its seed and index', () => {
    expect([1, 2, 3].map(() => caseRng(7, 3).int(1000))).toEqual(Array(3).fill(caseRng(7, 3).int(1000)));
    expect(caseRng(7, 3).int(1 << 30)).not.toBe(caseRng(7, 4).int(1 << 30));
  });

  it('flags exit 3, internal errors, stack traces, runtime messages and hangs', () => {
    expect(checkRun(run({ code: 0 }))).toEqual([]);
    expect(checkRun(run({ code: 3, stderr: 'klp-split: internal error: x [internal]' })).map((v) => v.kind)).toEqual(['internal-error']);
    expect(checkRun(run({ code: 1, stderr: 'Error: x\n    at f (/work/a.js:1:2)' })).map((v) => v.kind)).toEqual(['stack-trace']);
    expect(checkRun(run({ code: 2, stderr: "error: Cannot read properties of undefined (reading 'x')" })).map((v) => v.kind)).toEqual(['js-error-text']);
    expect(checkRun(run({ code: 0, ms: 1e9 })).map((v) => v.kind)).toEqual(['hang']);
    expect(checkRun(run({ code: 4 })).map((v) => v.kind)).toEqual(['exit-code']);
  });

  it('sees writes and reads made through ESM imports of node:fs, and fences writes outside the sandbox', async () => {
    const inside = join(sandbox.work, 'a.txt');
    const { accesses } = await traced(() => {
      writeFileSync(inside, 'x');
      return 0;
    }, fenceFor(sandbox.root));
    expect(accesses).toContainEqual({ kind: 'write', op: 'writeFileSync', path: inside });
    const outside = join(tmpdir(), `klp-split-fuzz-harness-outside-${process.pid}`);
    await expect(traced(() => writeFileSync(outside, 'x'), fenceFor(sandbox.root))).rejects.toThrow(/EPERM/);
    expect(existsSync(outside)).toBe(false);
    rmSync(outside, { force: true });
    const r = run({ accesses: [{ kind: 'read', op: 'readFileSync', path: sandbox.paths().secret }, { kind: 'delete', op: 'rmSync', path: sandbox.paths().victim }] });
    expect(checkAccesses(r, sandbox, [sandbox.work]).map((v) => v.kind)).toEqual(['read-outside', 'write-outside']);
  });

  it('sees a deleted sentinel file in the snapshot, and main() runs in-process', async () => {
    const before = sandbox.snapshot([sandbox.work]);
    rmSync(sandbox.paths().victim);
    expect(diffSnapshots(before, sandbox.snapshot([sandbox.work]))).toEqual(['deleted sentinel/victim.txt']);
    sandbox.resetSentinel();
    expect(diffSnapshots(before, sandbox.snapshot([sandbox.work]))).toEqual([]);
    const r = await runInProcess(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\d+\.\d+\.\d+/);
  });
});

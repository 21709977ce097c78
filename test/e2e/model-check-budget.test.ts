import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecutorContext } from '@nx/devkit';
import verifyExecutor from '../../packages/nx/src/executors/verify/executor.js';
import { klpSplit, removeDir, tempDir } from '../helpers/env.js';
import { dependentLivepatchSource, dependentTargetSource } from '../../bench/gen-targets.mjs';

/**
 * Issue 20: the model checker had no default budget; a livepatch of 30
 * dependent targets (one group: each target uses the one before) was still
 * searching after 900 s with 4.3 GB. verify now stops at its default budget
 * (2 minutes, 1,000,000 states, and before the heap fills) with a
 * model-check-incomplete warning naming what it covered, in the CLI and in
 * the Nx executor (one function, verifySplit()).
 */
const K = 30;
let work: string;
let out: string;
const targets = (): string[] => Array.from({ length: K }, (_, i) => join(work, 'targets', `klpdep-t${i}.ko`));

beforeAll(async () => {
  work = tempDir('model-check-budget');
  mkdirSync(join(work, 'targets'), { recursive: true });
  for (let i = 0; i < K; i++) writeFileSync(join(work, 'targets', `klpdep-t${i}.c`), dependentTargetSource(i));
  const b = await klpSplit(['build', join(work, 'targets')]);
  if (b.code !== 0) throw new Error(b.stdout + b.stderr);
  const src = join(work, `klpdep-fix${K}.c`);
  writeFileSync(src, dependentLivepatchSource(K));
  out = join(work, 'out');
  const s = await klpSplit(['split', src, '--out', out]);
  if (s.code !== 0) throw new Error(s.stderr);
  const bb = await klpSplit(['build', out]);
  if (bb.code !== 0) throw new Error(bb.stdout + bb.stderr);
}, 600_000);
afterAll(() => removeDir(work));

describe('verify bounds its model check by default (issue 20)', () => {
  it(`${K} dependent targets: verify without --budget ends at the default budget with a warning naming what was covered`, async () => {
    const t0 = Date.now();
    const r = await klpSplit(['verify', out, ...targets().flatMap((t) => ['--target', t]), '--format', 'json']);
    const seconds = (Date.now() - t0) / 1000;
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    // One group of 30 targets, not finished.
    expect(report.exploration.groups).toHaveLength(1);
    expect(report.exploration.groups[0]).toHaveLength(K);
    expect(report.exploration.complete).toBe(false);
    expect(['time', 'states', 'memory']).toContain(report.exploration.stoppedBy);
    expect(report.exploration.budget).toBe('2m, 1000000 states');
    const warning = report.diagnostics.find((d: { code: string }) => d.code === 'model-check-incomplete');
    expect(warning?.severity).toBe('warning');
    expect(warning.message).toMatch(/^model check incomplete \((time budget|state budget|memory bound .*) reached, the default budget 2m, 1000000 states; --budget sets another\): no target group searched completely; in the group of klpdep_t0, klpdep_t1, .*, klpdep_t29 every state up to \d+ events from the start was checked \(\d+ states in all\)$/);
    // Bounded: the default time budget plus reading, checking and writing the report.
    expect(seconds).toBeLessThan(200);
    expect(report.exploration.heapBytes).toBeLessThan(3 * 2 ** 30);
  }, 300_000);

  it('the Nx verify executor reports the same warning (its --budget here, so the test stays short)', async () => {
    const lines: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((t: string) => (lines.push(String(t)), true)) as typeof process.stdout.write;
    let r;
    try {
      r = await verifyExecutor({ path: out, targets: targets(), format: 'json', budget: '3s' }, { root: '/' } as ExecutorContext);
    } finally {
      process.stdout.write = write;
    }
    expect(r.success).toBe(true);
    const report = JSON.parse(lines.join(''));
    expect(report.exploration.stoppedBy).toBe('time');
    const warning = report.diagnostics.find((d: { code: string }) => d.code === 'model-check-incomplete');
    expect(warning.message).toMatch(/^model check incomplete \(time budget reached\): no target group searched completely; in the group of klpdep_t0, /);
  }, 120_000);
});

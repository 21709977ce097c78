import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ExecutorContext } from '@nx/devkit';
import { checkOptions } from '@klp-split/core';
import { VERIFY_COMMAND } from '@klp-split/runtime-sim';
import verifyExecutor from '../../packages/nx/src/executors/verify/executor.js';
import { klpSplit } from '../helpers/env.js';
import { builtSources } from '../helpers/fixtures.js';
import { klpSplitInProcess } from '../helpers/in-process.js';
import { splitAndBuilt } from '../helpers/split-built.js';
import { dependentLivepatchSource, dependentTargetSource } from '../../bench/gen-targets.mjs';

/**
 * Issue 20: the model checker had no default budget; a livepatch of 30
 * dependent targets (one group: each target uses the one before) was still
 * searching after 900 s with 4.3 GB. verify now stops at its default budget
 * (2 minutes, 1,000,000 states, and before the heap fills) with a
 * model-check-incomplete warning naming what it covered, in the CLI and in
 * the Nx executor (one function, verifySplit()).
 *
 * Proved here without waiting out the 2 minutes: without --budget the search
 * runs under the default budget (the report's budget is the one the search
 * was given) and ends by itself, here at the heap bound every search has, in
 * a process given a small heap; a budget's time and state bounds stop the
 * same search, each named in the report. The whole default-budget run (the
 * search stopped by the 2 minutes, within bounded time and heap) is
 * bench/model-check-budget.bench.mjs (`npm run bench`, test/README.md).
 */
const K = 30;
let out: string;
let targets: string[];

beforeAll(async () => {
  const [dir, split] = await Promise.all([
    builtSources('model-check-budget-targets', Object.fromEntries(Array.from({ length: K }, (_, i) => [`klpdep-t${i}.c`, dependentTargetSource(i)]))),
    splitAndBuilt('model-check-budget-split', { [`klpdep-fix${K}.c`]: dependentLivepatchSource(K) }),
  ]);
  targets = Array.from({ length: K }, (_, i) => join(dir, `klpdep-t${i}.ko`));
  out = split(`klpdep-fix${K}`);
}, 20 * 60_000);

const incomplete = (report: { diagnostics: { code: string; severity: string; message: string }[] }) => report.diagnostics.find((d) => d.code === 'model-check-incomplete');

describe('verify bounds its model check by default (issue 20)', () => {
  it(`${K} dependent targets: verify without --budget searches under the default budget, ends by itself, and warns naming what was covered`, async () => {
    // 128 MiB of heap: the search meets the heap bound in seconds instead of the default's 2 minutes.
    const r = await klpSplit(['verify', out, ...targets.flatMap((t) => ['--target', t]), '--format', 'json'], { env: { NODE_OPTIONS: '--max-old-space-size=128' } });
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    // One group of 30 targets, not finished.
    expect(report.exploration.groups).toHaveLength(1);
    expect(report.exploration.groups[0]).toHaveLength(K);
    expect(report.exploration.complete).toBe(false);
    expect(report.exploration.budget).toBe('2m, 1000000 states');
    expect(report.exploration.stoppedBy).toBe('memory');
    expect(report.exploration.heapBytes).toBeLessThan(256 * 2 ** 20);
    const warning = incomplete(report);
    expect(warning?.severity).toBe('warning');
    expect(warning!.message).toMatch(/^model check incomplete \(memory bound \(the heap was filling up\) reached, the default budget 2m, 1000000 states; --budget sets another\): no target group searched completely; in the group of klpdep_t0, klpdep_t1, .*, klpdep_t29 every state up to \d+ events from the start was checked \(\d+ states in all\)$/);
  }, 300_000);

  it('a state budget stops the same search at that many states, and the report names it', async () => {
    const r = await klpSplitInProcess(['verify', out, ...targets.flatMap((t) => ['--target', t]), '--budget', '2000', '--format', 'json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.exploration.complete).toBe(false);
    expect(report.exploration.stoppedBy).toBe('states');
    expect(report.exploration.budget).toBe('2000 states');
    expect(report.exploration.states).toBeGreaterThanOrEqual(2000);
    expect(report.exploration.states).toBeLessThan(2000 + 100);
    expect(incomplete(report)!.message).toMatch(/^model check incomplete \(state budget reached\): no target group searched completely; in the group of klpdep_t0, /);
  });

  it('the Nx verify executor: a time budget stops the search, with the same warning', async () => {
    const lines: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((t: string) => (lines.push(String(t)), true)) as typeof process.stdout.write;
    let r;
    try {
      // The options as Nx gives them: schema.json's defaults filled in.
      r = await verifyExecutor(checkOptions(VERIFY_COMMAND, { path: out, targets, format: 'json', budget: '3s' }), { root: '/' } as ExecutorContext);
    } finally {
      process.stdout.write = write;
    }
    expect(r.success).toBe(true);
    const report = JSON.parse(lines.join(''));
    expect(report.exploration.stoppedBy).toBe('time');
    expect(report.exploration.budget).toBe('3s');
    expect(incomplete(report)!.message).toMatch(/^model check incomplete \(time budget reached\): no target group searched completely; in the group of klpdep_t0, /);
  }, 120_000);
});

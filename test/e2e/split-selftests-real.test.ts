import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newKernel, parseScenario, runScenario, type SimSystem } from '@klp-split/runtime-sim';
import { align, comparable } from '../../packages/nx/src/real-kernel/compare.js';
import { caseTranscript } from '../../packages/nx/src/real-kernel/guest-report.js';
import { keptLines } from '../helpers/real-kernel.js';
import { scenarios, splitSelftestsBatch, splitSelftestSystem } from '../real/batches/split-selftests-real.js';
import { realBatch } from '../real/result.js';

/**
 * The project's split-mode goldens of the kernel's livepatch selftests
 * (test-callbacks: test/golden/split-callbacks; test-livepatch, test-state,
 * test-sysfs, test-ftrace: test/golden/upstream/<script> with the split
 * rewrites of test/golden/split-selftests) on the real split kernel
 * (scripts/split-kernel.sh, the run's one boot of it:
 * test/real/batches/split-selftests-real.ts) and in the simulator's split
 * mode, on the same .ko files: the kernel's test livepatches split by
 * klp-split and built against the split kernel's tree, their targets too.
 * Compared line for line: commands, the tools' errors, the livepatch core's
 * lines, the callbacks' calls, sysfs readings (compare.ts says what is compared).
 */

/**
 * Scenarios where the real split kernel and the simulator disagree, each with
 * the reason (a point of docs/split-kernel.md, "What the real split kernel
 * showed"). Every entry must still disagree, so the list cannot go stale.
 */
const EXPECTED_DIFFERENCES: Record<string, string> = {};

const SCENARIOS = scenarios();

describe('split-mode selftest goldens: the real split kernel and the simulator agree', () => {
  let sys: SimSystem;
  let real: Map<string, string[]>;
  let problems: string[];
  let realMs = 0;
  const compared = new Map<string, { simulated: string[]; real: string[]; agree: boolean }>();

  beforeAll(async () => {
    const result = realBatch(splitSelftestsBatch);
    sys = await splitSelftestSystem();
    const names = sys.images.map((i) => i.name);
    const r = await result;
    realMs = r.ms;
    problems = [...r.problems, ...[...r.left].map(([id, m]) => `${id} left ${m.join(' ')}`)];
    const keep = (line: string): boolean => line.startsWith('livepatch: ') || names.some((n) => line.startsWith(`${n}: `));
    real = new Map([...r.cases].map(([id, lines]) => [id, caseTranscript(keptLines(lines, keep)).lines]));
    for (const [id, file] of SCENARIOS) {
      const sim = runScenario(newKernel(sys), parseScenario(readFileSync(file, 'utf8'), file));
      const s = comparable(sim.transcript, names).lines;
      const k = comparable(real.get(id) ?? [], names).lines;
      compared.set(id, { simulated: s, real: k, agree: JSON.stringify(s) === JSON.stringify(k) });
    }
  }, 60 * 60_000);

  afterAll(() => {
    if (compared.size) {
      const agree = [...compared.values()].filter((c) => c.agree).length;
      console.log(`split-mode selftest goldens on the real split kernel: ${agree}/${compared.size} agree line for line; qemu run ${(realMs / 1000).toFixed(1)} s (boot included)`);
      // KLP_SPLIT_SELFTESTS_REPORT=<file> keeps both sides of every scenario.
      const file = process.env.KLP_SPLIT_SELFTESTS_REPORT;
      if (file) writeFileSync(file, JSON.stringify(Object.fromEntries(compared), null, 2));
    }
  });

  it('ran every scenario to its end on the real split kernel', () => {
    expect(problems).toEqual([]);
    expect([...real.keys()]).toEqual([...SCENARIOS.keys()]);
    expect(SCENARIOS.size).toBe(11 + 3 + 4 + 2 + 1);
  });

  for (const id of SCENARIOS.keys()) {
    const reason = EXPECTED_DIFFERENCES[id];
    it(reason ? `${id} differs as docs/split-kernel.md says: ${reason}` : `${id}: the simulator prints what the split kernel prints`, () => {
      const c = compared.get(id)!;
      // Real: something happened (the kernel logged the commands and its own lines).
      expect(c.real.filter((l) => l.startsWith('% ')).length).toBeGreaterThan(0);
      expect(c.real.some((l) => l.startsWith('livepatch: '))).toBe(true);
      const diff = align(c.simulated, c.real)
        .filter((r) => r.left === undefined || r.right === undefined)
        .map((r) => (r.left !== undefined ? `< ${r.left}` : `> ${r.right}`));
      if (reason) expect(diff, 'an expected difference that no longer differs: drop it from EXPECTED_DIFFERENCES').not.toEqual([]);
      else expect(diff, `simulator (<) vs split kernel (>):\n${c.real.join('\n')}`).toEqual([]);
    });
  }
});

import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeDir, tempDir } from '../helpers/env.js';
import { realRun, type RealRun } from '../helpers/real-kernel.js';
import { expectAgreement, reportDifferential, simulateUpstream, type Simulated } from '../helpers/differential.js';
import { faultCases, faultModules, faultsBatch } from '../real/batches/differential-faults.js';
import { realBatch } from '../real/result.js';

/**
 * Differential faults: livepatch modules generated here, each with one fault,
 * loaded on the real kernel (Debian's 6.1 under qemu, in the run's one boot
 * of that kernel: test/real/batches/differential-faults.ts) and in the
 * simulator's upstream mode. Both must agree on every command's success or
 * failure and on every line the kernel and the tools print.
 */

const CASES = faultCases();

describe('differential faults: the real kernel and the simulator agree', () => {
  let dir: string;
  let real: RealRun;
  let simulated = new Map<string, Simulated>();
  const agreed = new Set<string>();

  beforeAll(async () => {
    dir = tempDir('faults');
    const result = realBatch(faultsBatch);
    // The simulator side through the command line users run, while the real kernel runs the same .ko files.
    const modules = await faultModules();
    simulated = await simulateUpstream(CASES.map((c) => ({ ...c, modules: c.modules.map((m) => m.name) })), (name) => join(modules, `${name}.ko`), dir);
    const caseModules = new Map(CASES.map((c) => [c.id, c.modules.map((m) => m.name)]));
    real = realRun(await result, (id) => caseModules.get(id) ?? []);
  }, 60 * 60_000);

  afterAll(() => {
    reportDifferential('differential faults', CASES, real, simulated, agreed);
    if (dir) removeDir(dir);
  });

  it('has at least 20 faults, and the real run left nothing behind between cases', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(20);
    expect(new Set(CASES.map((c) => c.id)).size).toBe(CASES.length);
    expect(real.problems).toEqual([]);
  });

  for (const c of CASES) {
    it(`${c.id}: ${c.what}`, () => {
      expectAgreement(c, real.results.get(c.id), simulated.get(c.id));
      agreed.add(c.id);
    });
  }
});

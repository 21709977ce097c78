import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectAgreement, reportDifferential, simulateUpstream, type Simulated } from '../helpers/differential.js';
import { removeDir, tempDir } from '../helpers/env.js';
import { realRun, type RealRun } from '../helpers/real-kernel.js';
import { relocCases, relocFaultModules, relocFaultsBatch } from '../real/batches/differential-reloc-faults.js';
import { realBatch } from '../real/result.js';

/**
 * Differential faults on livepatch relocations: classic livepatches whose
 * `.klp.rela` / `.klp.sym` entries `klp-split build` wrote, some then edited
 * as a broken tool would have written them, loaded on the real kernel
 * (Debian's 6.1 under qemu, in the run's one boot of that kernel:
 * test/real/batches/differential-reloc-faults.ts) and in the simulator's
 * upstream mode. Both must agree on every command's success or failure and
 * on every line the kernel and the tools print.
 */

const CASES = relocCases();

describe('differential relocation faults: the real kernel and the simulator agree', () => {
  let dir: string;
  let real: RealRun;
  let simulated = new Map<string, Simulated>();
  const agreed = new Set<string>();

  beforeAll(async () => {
    dir = tempDir('reloc-faults');
    const result = realBatch(relocFaultsBatch);
    const modules = await relocFaultModules();
    simulated = await simulateUpstream(CASES.map((c) => ({ ...c, modules: c.modules.map((m) => m.name) })), (name) => join(modules, `${name}.ko`), dir);
    const caseModules = new Map(CASES.map((c) => [c.id, c.modules.map((m) => m.name)]));
    real = realRun(await result, (id) => caseModules.get(id) ?? []);
  }, 60 * 60_000);

  afterAll(() => {
    reportDifferential('differential relocation faults', CASES, real, simulated, agreed);
    if (dir) removeDir(dir);
  });

  it('has at least 12 faults, and the real run left nothing behind between cases', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(12);
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

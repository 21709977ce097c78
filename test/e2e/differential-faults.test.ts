import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { faultCatalogue } from '../differential/catalogue.js';
import { kernelFacts } from '../differential/kernel-facts.js';
import { moduleSource } from '../differential/module-source.js';
import { klpSplit, removeDir, tempDir } from '../helpers/env.js';
import { runOnRealKernel, type RealRun } from '../helpers/real-kernel.js';
import { expectAgreement, reportDifferential, simulateUpstream, type Simulated } from '../helpers/differential.js';

/**
 * Differential faults: livepatch modules generated here, each with one fault,
 * loaded on the real kernel (Debian's 6.1 under qemu, one boot for all) and
 * in the simulator's upstream mode. Both must agree on every command's
 * success or failure and on every line the kernel and the tools print.
 */

const CASES = faultCatalogue(kernelFacts());

describe('differential faults: the real kernel and the simulator agree', () => {
  let dir: string;
  let real: RealRun;
  let simulated = new Map<string, Simulated>();
  const agreed = new Set<string>();

  beforeAll(async () => {
    dir = tempDir('faults');
    const src = join(dir, 'modules');
    const specs = new Map(CASES.flatMap((c) => c.modules).map((m) => [m.name, m]));
    mkdirSync(src, { recursive: true });
    for (const m of specs.values()) writeFileSync(join(src, `${m.name}.c`), moduleSource(m));
    const built = await klpSplit(['build', src]);
    if (built.code !== 0) throw new Error(`building the fault modules failed:\n${built.stdout}\n${built.stderr}`);
    const ko = (name: string): string => join(src, `${name}.ko`);

    const caseModules = new Map(CASES.map((c) => [c.id, c.modules.map((m) => m.name)]));
    real = await runOnRealKernel([...specs.keys()].map(ko), CASES, caseModules, join(dir, 'real'));

    // The simulator side through the command line users run.
    simulated = await simulateUpstream(CASES.map((c) => ({ ...c, modules: c.modules.map((m) => m.name) })), ko, dir);
  }, 20 * 60_000);

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

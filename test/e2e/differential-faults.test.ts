import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { faultCatalogue } from '../differential/catalogue.js';
import { kernelFacts } from '../differential/kernel-facts.js';
import { moduleSource } from '../differential/module-source.js';
import { klpSplit, removeDir, tempDir } from '../helpers/env.js';
import { runOnRealKernel, type RealRun } from '../helpers/real-kernel.js';
import { callbackCall } from '../helpers/selftests.js';

/**
 * Differential faults: livepatch modules generated here, each with one fault,
 * loaded on the real kernel (Debian's 6.1 under qemu, one boot for all) and
 * in the simulator's upstream mode. Both must agree on every command's
 * success or failure and on every line the kernel and the tools print.
 */

/** Every line either side prints, with callback calls in the test modules' format and the simulator's other markers dropped. */
function comparable(lines: string[]): string[] {
  return lines.flatMap((l) => {
    const call = callbackCall(l);
    if (call) return [call];
    return l.startsWith('[') ? [] : [l];
  });
}

const CASES = faultCatalogue(kernelFacts());

describe('differential faults: the real kernel and the simulator agree', () => {
  let dir: string;
  let real: RealRun;
  const simulated = new Map<string, { transcript: string[]; code: number }>();
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

    // The simulator side through the command line users run, two cases at a time.
    const queue = [...CASES];
    const worker = async (): Promise<void> => {
      for (let c = queue.shift(); c; c = queue.shift()) {
        const scenario = join(dir, `${c.id}.scenario`);
        writeFileSync(scenario, `# ${c.what}\n${c.steps.join('\n')}\n`);
        const r = await klpSplit(['simulate', '--upstream', ...c.modules.flatMap((m) => ['--module', ko(m.name)]), '--scenario', scenario, '--json']);
        simulated.set(c.id, { code: r.code, transcript: r.code === 0 ? JSON.parse(r.stdout).transcript : [r.stderr] });
      }
    };
    await Promise.all([worker(), worker()]);
  }, 20 * 60_000);

  afterAll(() => {
    // KLP_FAULTS_REPORT=<file> keeps both sides' transcripts of every case.
    const report = process.env.KLP_FAULTS_REPORT;
    if (report && real) {
      const cases = CASES.map((c) => ({ id: c.id, agrees: agreed.has(c.id), real: real.results.get(c.id), simulated: simulated.get(c.id) }));
      writeFileSync(report, JSON.stringify({ realRunMs: Math.round(real.ms), agreed: agreed.size, total: CASES.length, cases }, null, 2));
    }
    if (real) console.log(`differential faults: ${agreed.size}/${CASES.length} agree; real-kernel run ${(real.ms / 1000).toFixed(1)} s (boot included)`);
    if (dir) removeDir(dir);
  });

  it('has at least 20 faults, and the real run left nothing behind between cases', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(20);
    expect(new Set(CASES.map((c) => c.id)).size).toBe(CASES.length);
    expect(real.problems).toEqual([]);
  });

  for (const c of CASES) {
    it(`${c.id}: ${c.what}`, () => {
      const kernel = real.results.get(c.id);
      expect(kernel, 'the real kernel ran the case').toBeDefined();
      expect(kernel!.status.length).toBe(c.steps.length);
      // The fault is real: the kernel reacted to it as the catalogue says.
      expect(kernel!.transcript).toContain(c.reaction);
      const sim = simulated.get(c.id)!;
      expect(sim.code, sim.transcript.join('\n')).toBe(0);
      expect(comparable(sim.transcript)).toEqual(comparable(kernel!.transcript));
      agreed.add(c.id);
    });
  }
});

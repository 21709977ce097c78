import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discoverKernelTree, kernelEnv } from '@klp-split/kbuild-gen';
import { defaultKallsymsFile } from '@klp-split/runtime-sim';
import { faultCatalogue, type KernelFacts } from '../differential/catalogue.js';
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

/** A vmlinux name kallsyms lists exactly twice, and an export of a module (no namespace). */
function kernelFacts(): KernelFacts {
  const release = kernelEnv().KLP_KERNEL_RELEASE;
  const dump = defaultKallsymsFile(release);
  if (!dump) throw new Error(`no kallsyms dump of ${release}: run scripts/qemu-kernel.sh kallsyms`);
  const count = new Map<string, number>();
  for (const line of readFileSync(dump, 'utf8').split('\n')) {
    const [, type, name, mod] = line.split(/\s+/);
    if (name && !mod) count.set(name, (count.get(name) ?? 0) + (/^[tT]$/.test(type ?? '') ? 1 : 100));
  }
  const duplicate = [...count].filter(([n, c]) => c === 2 && /^[a-z]\w*$/.test(n)).map(([n]) => n).sort()[0];
  const moduleExport = readFileSync(discoverKernelTree().symvers, 'utf8')
    .split('\n')
    .map((l) => l.split('\t'))
    .find(([, name, where, , ns]) => name && where !== 'vmlinux' && !ns && /^[a-z]\w+$/.test(name))?.[1];
  if (!duplicate || !moduleExport) throw new Error('cannot find a duplicate kallsyms name or a module export');
  return { duplicate, moduleExport };
}

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

    for (const c of CASES) {
      const scenario = join(dir, `${c.id}.scenario`);
      writeFileSync(scenario, `# ${c.what}\n${c.steps.join('\n')}\n`);
      const r = await klpSplit(['simulate', '--upstream', ...c.modules.flatMap((m) => ['--module', ko(m.name)]), '--scenario', scenario, '--json']);
      simulated.set(c.id, { code: r.code, transcript: r.code === 0 ? JSON.parse(r.stdout).transcript : [r.stderr] });
    }
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

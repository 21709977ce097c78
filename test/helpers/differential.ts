import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RealBatch } from '../real/batch.js';
import { realBatch } from '../real/result.js';
import { qemuRun } from '../real/run-cache.js';
import { klpSplit, removeDir, tempDir } from './env.js';
import { realRun, type RealCaseResult, type RealRun } from './real-kernel.js';
import { callbackCall } from '../../packages/nx/src/real-kernel/compare.js';

/**
 * The comparison the differential suites share: the same commands run on the
 * real kernel (a real-kernel batch, test/real/batch.ts) and in the simulator's upstream mode through
 * `klp-split simulate --upstream`, which must agree on every command's
 * success or failure and on every line the kernel and the tools print.
 */

export interface DifferentialCase {
  id: string;
  what: string;
  steps: string[];
  /** A line the real kernel's transcript must contain: the fault is really reacted to. */
  reaction: string;
  /** A fault the kernel lets pass silently: the simulator must agree on every line and report this violation (exit 1). */
  violation?: string;
}

export interface Simulated {
  transcript: string[];
  /** The codes of the violations the simulator reported. */
  violations: string[];
  code: number;
}

/**
 * Every line either side prints, with callback calls in the test modules'
 * format, the simulator's other markers dropped, and the x86 loader's
 * pointers (a hashed %p and a load address) left out.
 */
export function comparable(lines: string[]): string[] {
  return lines.flatMap((l) => {
    const call = callbackCall(l);
    if (call) return [call];
    if (l.startsWith('[')) return [];
    return [l.replace(/^(module: x86\/modules: .*), loc \S+, val [0-9a-f]+$/, '$1, loc <ptr>, val <addr>')];
  });
}

/** Runs every case in the simulator's upstream mode, two at a time; `ko` gives a module's file. */
export async function simulateUpstream(cases: (DifferentialCase & { modules: string[] })[], ko: (name: string) => string, dir: string): Promise<Map<string, Simulated>> {
  const simulated = new Map<string, Simulated>();
  const queue = [...cases];
  const worker = async (): Promise<void> => {
    for (let c = queue.shift(); c; c = queue.shift()) {
      const scenario = join(dir, `${c.id}.scenario`);
      writeFileSync(scenario, `# ${c.what}\n${c.steps.join('\n')}\n`);
      const r = await klpSplit(['simulate', '--upstream', ...c.modules.flatMap((m) => ['--module', ko(m)]), '--scenario', scenario, '--json']);
      const json = r.code === 0 || r.code === 1 ? (JSON.parse(r.stdout) as { transcript: string[]; violations: { code: string }[] }) : undefined;
      simulated.set(c.id, { code: r.code, transcript: json?.transcript ?? [r.stderr], violations: json?.violations.map((v) => v.code) ?? [] });
    }
  };
  await Promise.all([worker(), worker()]);
  return simulated;
}

/** The case agrees: the real kernel ran every step and reacted as the case says, and the simulator printed the same. */
export function expectAgreement(c: DifferentialCase, kernel: RealCaseResult | undefined, sim: Simulated | undefined): void {
  expect(kernel, 'the real kernel ran the case').toBeDefined();
  expect(kernel!.status.length).toBe(c.steps.length);
  // The fault is real: the kernel reacted to it as the catalogue says.
  expect(kernel!.transcript).toContain(c.reaction);
  expect(sim, 'the simulator ran the case').toBeDefined();
  expect(sim!.violations).toEqual(c.violation ? [c.violation] : []);
  expect(sim!.code, sim!.transcript.join('\n')).toBe(c.violation ? 1 : 0);
  expect(comparable(sim!.transcript)).toEqual(comparable(kernel!.transcript));
}

/** KLP_FAULTS_REPORT=<file> keeps both sides' transcripts of every case; the summary line goes to the log. */
export function reportDifferential(label: string, cases: DifferentialCase[], real: RealRun | undefined, simulated: Map<string, Simulated>, agreed: Set<string>): void {
  if (!real) return;
  const report = process.env.KLP_FAULTS_REPORT;
  if (report) {
    const all = cases.map((c) => ({ id: c.id, agrees: agreed.has(c.id), real: real.results.get(c.id), simulated: simulated.get(c.id) }));
    writeFileSync(report, JSON.stringify({ realRunMs: Math.round(real.ms), agreed: agreed.size, total: cases.length, cases: all }, null, 2));
  }
  console.log(`${label}: ${agreed.size}/${cases.length} agree; real-kernel ${qemuRun(real)} (the boot it shared, boot included)`);
}

/**
 * A differential suite of the stock kernel: the cases' modules in the
 * simulator's upstream mode (`klp-split simulate --upstream`, two at a time)
 * while the real kernel runs the batch, then one test that the real run is
 * clean and one per case that both sides agree.
 */
export function describeDifferential(o: {
  label: string;
  cases: (DifferentialCase & { modules: { name: string }[] })[];
  batch: RealBatch;
  /** The directory of the cases' built modules (the same fixture the batch installs). */
  modules: () => Promise<string>;
  /** The catalogue has at least this many cases. */
  atLeast: number;
}): void {
  describe(`${o.label}: the real kernel and the simulator agree`, () => {
    let dir: string;
    let real: RealRun;
    let simulated = new Map<string, Simulated>();
    const agreed = new Set<string>();

    beforeAll(async () => {
      dir = tempDir(o.batch.name);
      const result = realBatch(o.batch);
      const modules = await o.modules();
      simulated = await simulateUpstream(o.cases.map((c) => ({ ...c, modules: c.modules.map((m) => m.name) })), (name) => join(modules, `${name}.ko`), dir);
      const caseModules = new Map(o.cases.map((c) => [c.id, c.modules.map((m) => m.name)]));
      real = realRun(await result, (id) => caseModules.get(id) ?? []);
    }, 60 * 60_000);

    afterAll(() => {
      reportDifferential(o.label, o.cases, real, simulated, agreed);
      if (dir) removeDir(dir);
    });

    it(`has at least ${o.atLeast} faults, and the real run left nothing behind between cases`, () => {
      expect(o.cases.length).toBeGreaterThanOrEqual(o.atLeast);
      expect(new Set(o.cases.map((c) => c.id)).size).toBe(o.cases.length);
      expect(real.problems).toEqual([]);
    });

    for (const c of o.cases) {
      it(`${c.id}: ${c.what}`, () => {
        expectAgreement(c, real.results.get(c.id), simulated.get(c.id));
        agreed.add(c.id);
      });
    }
  });
}

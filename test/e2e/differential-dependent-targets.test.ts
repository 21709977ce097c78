import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommandWalk, type SimSystem } from '@klp-split/runtime-sim';
import { exploredCases, REFUSED_CASES } from '../differential/dependent-cases.js';
import { BASE, PATCH, USER } from '../differential/dependent-modules.js';
import { klpSplit, removeDir, tempDir } from '../helpers/env.js';
import { realRun, type RealCase, type RealRun } from '../helpers/real-kernel.js';
import { dependentBatch, dependentModel, dependentModules, ENTITIES, EXPLORED_ON_REAL } from '../real/batches/differential-dependent-targets.js';
import { realBatch } from '../real/result.js';
import { qemuRun } from '../real/run-cache.js';

/**
 * Issue 14: two targets where one uses the other's export, and a classic
 * livepatch fixing both. What the model checker considers possible (its
 * events, asked through CommandWalk, the checker's own event function run
 * command by command) must be what the real kernel (Debian's 6.1 under
 * qemu, in the run's one boot of it: test/real/batches/differential-dependent-targets.ts)
 * allows: it refuses the orders the model has no event for, in its own
 * words, and in the orders the model explores it prints what the simulator
 * prints, line for line.
 */

/** Lines both sides print, without the simulator's markers ('[...]'). */
const comparable = (lines: string[]): string[] => lines.filter((l) => !l.startsWith('['));

describe('dependent targets: the real kernel allows what the model explores and refuses what it does not', () => {
  let dir: string;
  let sys: SimSystem;
  let orders: string[][];
  let explored: RealCase[];
  let real: RealRun;
  const simulated = new Map<string, { code: number; transcript: string[] }>();

  beforeAll(async () => {
    dir = tempDir('dependent');
    const result = realBatch(dependentBatch);
    const kos = await dependentModules();
    ({ sys, orders } = await dependentModel(kos));
    explored = exploredCases(orders, EXPLORED_ON_REAL);
    const cases: RealCase[] = [...REFUSED_CASES, ...explored];
    for (const c of cases) {
      const scenario = join(dir, `${c.id}.scenario`);
      writeFileSync(scenario, `${c.steps.join('\n')}\n`);
      const r = await klpSplit(['simulate', '--upstream', ...kos.flatMap((k) => ['--module', k]), '--scenario', scenario, '--json']);
      simulated.set(c.id, { code: r.code, transcript: r.code === 0 ? JSON.parse(r.stdout).transcript : [r.stdout, r.stderr] });
    }
    real = realRun(await result, () => [PATCH, BASE, USER]);
  }, 60 * 60_000);

  afterAll(() => {
    if (real) console.log(`dependent targets: ${orders.length} complete command orders in the model, ${explored.length} run on the real kernel; real-kernel ${qemuRun(real)} (boot included)`);
    if (dir) removeDir(dir);
  });

  it('the real run left nothing behind between cases, and ran the cases the model gives', () => {
    expect(real.problems).toEqual([]);
    expect([...real.results.keys()]).toEqual([...REFUSED_CASES, ...explored].map((c) => c.id));
  });

  it('the model: modprobe of the user loads the exporter first, and no order removes the exporter while its user is loaded', () => {
    const w = CommandWalk.start(sys, ENTITIES);
    expect(w.commands().sort()).toEqual([`modprobe ${BASE}`, `modprobe ${PATCH}`, `modprobe ${USER}`]);
    expect(w.run(`modprobe ${USER}`)).toBe(true);
    expect([...w.state.kernel.modules.keys()].sort()).toEqual([BASE, USER]);
    expect(w.commands()).not.toContain(`rmmod ${BASE}`);
    expect(w.commands()).toContain(`rmmod ${USER}`);
    // Every order to a state with no command left (the model bounds loads and removals of each module, and a
    // dependency load counts too): the user is never loaded without its exporter.
    expect(orders.length).toBeGreaterThan(EXPLORED_ON_REAL);
    for (const order of orders) {
      const walk = CommandWalk.start(sys, ENTITIES);
      for (const c of order) {
        expect(walk.run(c), `${c} in ${order.join('; ')}`).toBe(true);
        const k = walk.state.kernel;
        if (k.isLoaded(USER)) expect(k.isLoaded(BASE)).toBe(true);
      }
    }
  });

  for (const c of REFUSED_CASES) {
    it(`${c.id}: ${c.what} — the model has no such event, the kernel refuses it like the simulator`, () => {
      const walk = CommandWalk.start(sys, ENTITIES);
      c.steps.forEach((step, i) => {
        const insmod = /^insmod (\S+)$/.exec(step);
        if (c.refused.includes(i)) {
          expect(walk.commands(), `step ${i}: ${step}`).not.toContain(step);
          // kmod's modprobe, the model's only way to load, brings the exporter first.
          if (insmod) {
            const w2 = walk.copy();
            expect(w2.run(`modprobe ${insmod[1]}`)).toBe(true);
            expect(w2.state.kernel.isLoaded(BASE)).toBe(true);
          }
          return;
        }
        // insmod of a module whose dependencies are loaded is what modprobe does.
        expect(walk.run(insmod ? `modprobe ${insmod[1]}` : step), `step ${i}: ${step}`).toBe(true);
      });
      const kernel = real.results.get(c.id)!;
      expect(kernel.status.length).toBe(c.steps.length);
      for (const i of c.refused) expect(kernel.status[i], `the kernel refused ${c.steps[i]}`).not.toBe(0);
      c.steps.forEach((_, i) => c.refused.includes(i) || expect(kernel.status[i], c.steps[i]).toBe(0));
      for (const line of c.reactions) expect(kernel.transcript).toContain(line);
      const sim = simulated.get(c.id)!;
      expect(sim.code, sim.transcript.join('\n')).toBe(0);
      expect(comparable(sim.transcript)).toEqual(comparable(kernel.transcript));
    });
  }

  it('orders the model explores: every command succeeds on the real kernel, which prints what the simulator prints', () => {
    expect(explored.length).toBe(EXPLORED_ON_REAL);
    for (const c of explored) {
      const kernel = real.results.get(c.id)!;
      expect(kernel.status, `${c.id}: ${c.steps.join('; ')}\n${kernel.transcript.join('\n')}`).toEqual(c.steps.map(() => 0));
      const sim = simulated.get(c.id)!;
      expect(sim.code, sim.transcript.join('\n')).toBe(0);
      expect(comparable(sim.transcript), c.id).toEqual(comparable(kernel.transcript));
    }
  });
});

import { cpSync, mkdirSync, readdirSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSplitSystem, newKernel, parseScenario, runScenario, type ModuleImage, type SimSystem } from '@klp-split/runtime-sim';
import { align, comparable } from '../../packages/nx/src/real-kernel/compare.js';
import { commandOutput, DONE_MARKER, parseGuestReport } from '../../packages/nx/src/real-kernel/guest-report.js';
import { runGuest, STEPS_SCRIPT } from '../../packages/nx/src/real-kernel/guest-run.js';
import { klpSplit, libLivepatch, removeDir, ROOT, tempDir } from '../helpers/env.js';
import { stepsFile, type RealCase } from '../helpers/real-kernel.js';
import { splitKernel, type SplitKernel } from '../helpers/split-kernel.js';

/**
 * The project's split-mode goldens of the kernel's livepatch selftests
 * (test-callbacks: test/golden/split-callbacks; test-livepatch, test-state,
 * test-sysfs, test-ftrace: test/golden/upstream/<script> with the split
 * rewrites of test/golden/split-selftests) on the real split kernel
 * (scripts/split-kernel.sh, one qemu boot for every scenario, the guest's
 * packages/nx/scripts/guest/steps.sh) and in the simulator's split mode, on
 * the same .ko files: the kernel's test livepatches split by klp-split and
 * built against the split kernel's tree, their targets too. Compared line
 * for line: commands, the tools' errors, the livepatch core's lines, the
 * callbacks' calls, sysfs readings (compare.ts says what is compared).
 */

const LIVEPATCHES = ['test_klp_callbacks_demo', 'test_klp_callbacks_demo2', 'test_klp_livepatch', 'test_klp_atomic_replace', 'test_klp_state', 'test_klp_state2', 'test_klp_state3'];
const TARGETS = ['test_klp_callbacks_mod', 'test_klp_callbacks_busy'];

/** The scenarios: id '<script>/<file>' -> file, the split rewrite where there is one. */
function scenarios(): Map<string, string> {
  const out = new Map<string, string>();
  const callbacks = join(ROOT, 'test/golden/split-callbacks');
  for (const f of readdirSync(callbacks).filter((f) => f.endsWith('.scenario')).sort()) out.set(`test-callbacks/${f.replace(/\.scenario$/, '')}`, join(callbacks, f));
  for (const script of ['test-livepatch', 'test-state', 'test-sysfs', 'test-ftrace']) {
    const dir = join(ROOT, 'test/golden/upstream', script);
    for (const f of readdirSync(dir).filter((f) => f.endsWith('.scenario')).sort()) {
      const rewrite = join(ROOT, 'test/golden/split-selftests', script, f);
      out.set(`${script}/${f.replace(/\.scenario$/, '')}`, existsSync(rewrite) ? rewrite : join(dir, f));
    }
  }
  return out;
}

/**
 * Scenarios where the real split kernel and the simulator disagree, each with
 * the reason (a point of docs/split-kernel.md, "What the real split kernel
 * showed"). Every entry must still disagree, so the list cannot go stale.
 */
const EXPECTED_DIFFERENCES: Record<string, string> = {};

const SCENARIOS = scenarios();

describe('split-mode selftest goldens: the real split kernel and the simulator agree', () => {
  let dir: string;
  let kernel: SplitKernel;
  let sys: SimSystem;
  let real: Map<string, string[]>;
  let problems: string[];
  let realMs = 0;
  const compared = new Map<string, { simulated: string[]; real: string[]; agree: boolean }>();

  beforeAll(async () => {
    kernel = await splitKernel();
    dir = tempDir('split-selftests-real');
    const targets = join(dir, 'targets');
    mkdirSync(targets, { recursive: true });
    for (const t of TARGETS) cpSync(libLivepatch(`${t}.c`), join(targets, `${t}.c`));
    const tb = await klpSplit(['build', targets, '--kdir', kernel.kdir]);
    if (tb.code !== 0) throw new Error(`building the targets failed:\n${tb.stdout}\n${tb.stderr}`);
    const targetKos = TARGETS.map((t) => join(targets, `${t}.ko`));
    const images: ModuleImage[] = [];
    let base: SimSystem | undefined;
    for (const lp of LIVEPATCHES) {
      const out = join(dir, lp);
      const split = await klpSplit(['split', libLivepatch(`${lp}.c`), '--out', out]);
      if (split.code !== 0) throw new Error(`klp-split split ${lp} failed:\n${split.stderr}`);
      const build = await klpSplit(['build', out, '--kdir', kernel.kdir]);
      if (build.code !== 0) throw new Error(`klp-split build ${lp} failed:\n${build.stdout}\n${build.stderr}`);
      const loaded = loadSplitSystem(out, targetKos);
      base ??= loaded.sys;
      images.push(...loaded.parts.map((p) => p.image));
      if (lp === LIVEPATCHES[0]) images.push(...loaded.targets);
    }
    sys = { ...base!, images };

    const cases: RealCase[] = [...SCENARIOS].map(([id, file]) => ({ id, steps: readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() && !l.startsWith('#')) }));
    const work = join(dir, 'real');
    mkdirSync(work, { recursive: true });
    writeFileSync(join(work, 'scenario'), stepsFile(cases));
    const r = await runGuest({ kernel: 'split', kos: images.map((i) => i.path), script: STEPS_SCRIPT, files: { scenario: join(work, 'scenario') }, workDir: work, append: 'log_buf_len=8M', timeoutS: 1200 });
    realMs = r.ms;
    if (r.exitCode !== 0 || !r.output.includes(DONE_MARKER)) throw new Error(`the split-kernel run failed (exit ${r.exitCode}):\n${r.output.slice(-4000)}\n${r.stderr.slice(-4000)}`);
    const names = images.map((i) => i.name);
    const report = parseGuestReport(r.dmesg, (line) => line.startsWith('livepatch: ') || names.some((n) => line.startsWith(`${n}: `)));
    problems = report.problems;
    real = new Map(
      [...report.cases].map(([id, lines]) => [
        id,
        lines.flatMap((l) => (l.kind === 'cmd' ? [`% ${l.text}`] : l.kind === 'out' ? [commandOutput(l.text)] : l.kind === 'rc' ? [] : [l.text])),
      ]),
    );
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
    if (dir) removeDir(dir);
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

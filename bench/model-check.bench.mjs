// Model checker benchmark (issue 14): a livepatch fixing k generated modules
// (k = 1..10), split and built once with the CLI, verified by the model
// checker: states, transitions, states/s, CPU time and heap; beside it the
// old enumerator of whole-command orders ((2k+2)!/2^(k+1) runs) where it
// finishes in reasonable time. Targets: 6 targets under 10 s, 10 under 60 s.
// Then, for k = 1..KLP_BENCH_MAX_REPLACE (default 3), the same livepatch with
// a cumulative v2 (`.replace = true`) searched together (verify v2 --also v1:
// v2 and a reloaded copy, v1 once, each target once), and again with a task
// that never reaches a safe point in klpmc_t0_value, so that transitions
// stall and are forced.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { checkSplit, explore, loadSplitSystem } from '../packages/runtime-sim/dist/index.js';
import { livepatchSource, targetSource } from './gen-targets.mjs';

const MAX = Number(process.env.KLP_BENCH_MAX_TARGETS ?? 10);
/** The old enumerator runs only up to this many targets (4 took 13 s, 5 about 29 min). */
const OLD_MAX = 4;
const cli = (args) => execFileSync('node', ['packages/nx/bin/klp-split.js', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CI: 'true' } });
const root = mkdtempSync(join(tmpdir(), 'klp-split-mc-bench-'));
const factorial = (n) => (n <= 1 ? 1 : n * factorial(n - 1));
try {
  console.log(`building ${MAX} target modules and ${MAX} livepatches with the CLI (not timed)...`);
  mkdirSync(join(root, 'targets'));
  for (let i = 0; i < MAX; i++) writeFileSync(join(root, 'targets', `klpmc-t${i}.c`), targetSource(i));
  cli(['build', join(root, 'targets')]);
  console.log(`machine: ${cpus().length} x ${cpus()[0]?.model}, node ${process.version}`);
  console.log('targets  states  transitions  states/s  cpu-ms  wall-ms  heap-MB  complete  old-enumerator');
  const verdicts = [];
  for (let k = 1; k <= MAX; k++) {
    const src = join(root, `klpmc-fix${k}.c`);
    writeFileSync(src, livepatchSource(k));
    const out = join(root, `out${k}`);
    cli(['split', src, '--out', out]);
    cli(['build', out]);
    const loaded = loadSplitSystem(out, Array.from({ length: k }, (_, i) => join(root, 'targets', `klpmc-t${i}.ko`)));
    const names = loaded.targets.map((t) => t.name);
    globalThis.gc?.();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const r = checkSplit(loaded.sys, { patches: [loaded.manifest.patch], targets: names });
    const wall = performance.now() - t0;
    const c = process.cpuUsage(cpu0);
    const cpu = (c.user + c.system) / 1000;
    let old = `not run: ${(factorial(2 * k + 2) / 2 ** (k + 1)).toExponential(2)} runs`;
    if (k <= OLD_MAX) {
      const e = explore(loaded.sys, loaded.manifest.patch, names);
      old = `${e.interleavings} runs, ${Math.round(e.ms)} ms`;
    }
    console.log(`${String(k).padStart(7)}  ${String(r.states).padStart(6)}  ${String(r.transitions).padStart(11)}  ${String(Math.round((r.states / wall) * 1000)).padStart(8)}  ${String(Math.round(cpu)).padStart(6)}  ${String(Math.round(wall)).padStart(7)}  ${String(Math.round(r.heapBytes / 2 ** 20)).padStart(7)}  ${String(r.complete).padStart(8)}  ${old}`);
    if (k === 6) verdicts.push(`6 targets: ${Math.round(wall)} ms wall, ${Math.round(cpu)} ms CPU (target < 10000) ${wall < 10000 ? 'target met' : 'TARGET MISSED'}`);
    if (k === 10) verdicts.push(`10 targets: ${Math.round(wall)} ms wall, ${Math.round(cpu)} ms CPU (target < 60000) ${wall < 60000 ? 'target met' : 'TARGET MISSED'}`);
  }
  for (const v of verdicts) console.log(v);

  const MAX_REPLACE = Math.min(MAX, Number(process.env.KLP_BENCH_MAX_REPLACE ?? 3));
  console.log('with a cumulative v2 (verify v2 --also v1), and with forced transitions (a task sleeping in klpmc_t0_value):');
  console.log('targets  search   states  transitions  states/s  wall-ms  pinned-states  violations  complete');
  for (let k = 1; k <= MAX_REPLACE; k++) {
    const src = join(root, `klpmc-fix${k}-v2.c`);
    writeFileSync(src, livepatchSource(k).replace('\t.objs = objs,\n', '\t.objs = objs,\n\t.replace = true,\n'));
    const out = join(root, `out${k}-v2`);
    cli(['split', src, '--out', out]);
    cli(['build', out]);
    const v1 = loadSplitSystem(join(root, `out${k}`), []);
    const v2 = loadSplitSystem(out, Array.from({ length: k }, (_, i) => join(root, 'targets', `klpmc-t${i}.ko`)));
    const sys = { ...v2.sys, images: [...v2.sys.images, ...v1.parts.map((p) => p.image)] };
    for (const [label, sleeping] of [['replace', undefined], ['forced', ['klpmc_t0:klpmc_t0_value']]]) {
      globalThis.gc?.();
      const t0 = performance.now();
      const r = checkSplit(sys, { patches: [v2.manifest.patch, v1.manifest.patch], targets: v2.targets.map((t) => t.name), sleeping });
      const wall = performance.now() - t0;
      console.log(`${String(k).padStart(7)}  ${label.padEnd(7)}  ${String(r.states).padStart(6)}  ${String(r.transitions).padStart(11)}  ${String(Math.round((r.states / wall) * 1000)).padStart(8)}  ${String(Math.round(wall)).padStart(7)}  ${String(r.pinnedStates).padStart(13)}  ${String(r.violations.length).padStart(10)}  ${String(r.complete).padStart(8)}`);
    }
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}

// Simulator benchmark (issue 5): verify every corpus livepatch split (all
// their modules read as ELF, checked, loaded in the simulated kernel)
// against `readelf -sr -W` over the same .ko files, in one run; and the
// explorer's interleavings per second for the example's three targets.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { buildModules, buildSplit, stockLayoutProbe } from '../packages/kbuild-gen/dist/index.js';
import { discoverKernelTree, kernelEnv, loadSymvers } from '../packages/kernel-facts/dist/index.js';
import { clearModuleImageCache, explore, loadModuleImage, loadSplitSystem, newKernel, parseScenario, readLayout, runScenario, verifySplit, vmlinuxSymbolSource } from '../packages/runtime-sim/dist/index.js';
import { readFileSync } from 'node:fs';
import { splitFile } from '../packages/splitter/dist/index.js';
import { writeSplitFiles } from './write-split.mjs';

const corpus = kernelEnv().KLP_CORPUS;
const tree = discoverKernelTree();
const LIVEPATCHES = {
  'samples/livepatch/livepatch-sample.c': [],
  'samples/livepatch/livepatch-shadow-fix1.c': ['livepatch-shadow-mod'],
  'samples/livepatch/livepatch-shadow-fix2.c': ['livepatch-shadow-mod'],
  'samples/livepatch/livepatch-callbacks-demo.c': ['livepatch-callbacks-mod', 'livepatch-callbacks-busymod'],
  'lib/livepatch/test_klp_atomic_replace.c': [],
  'lib/livepatch/test_klp_callbacks_demo.c': ['test_klp_callbacks_mod', 'test_klp_callbacks_busy'],
  'lib/livepatch/test_klp_callbacks_demo2.c': [],
  'lib/livepatch/test_klp_livepatch.c': [],
  'lib/livepatch/test_klp_state.c': [],
  'lib/livepatch/test_klp_state2.c': [],
};
const RUNS = 5;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;

const root = mkdtempSync(join(tmpdir(), 'klp-split-sim-bench-'));
try {
  console.log('building the corpus splits and targets (not timed)...');
  const targetsDir = join(root, 'targets');
  const targetSources = [...new Set(Object.values(LIVEPATCHES).flat())];
  for (const t of targetSources) {
    const sub = t.startsWith('test_') ? 'lib/livepatch' : 'samples/livepatch';
    cpSync(join(corpus, sub, `${t}.c`), join(targetsDir, `${t}.c`));
  }
  const built = await buildModules(targetsDir, targetSources.map((t) => `${t}.c`), tree);
  if (!built.ok) throw new Error(built.output);
  const jobs = [];
  for (const [src, targets] of Object.entries(LIVEPATCHES)) {
    const out = join(root, basename(src, '.c'));
    writeSplitFiles(out, splitFile(join(corpus, src)).files);
    const b = await buildSplit(out, tree);
    if (!b.ok) throw new Error(b.output);
    jobs.push({ out, targets: targets.map((t) => join(targetsDir, `${t}.ko`)) });
  }
  const kos = [...new Set(jobs.flatMap((j) => [...readdirSync(j.out).filter((f) => f.endsWith('.ko')).map((f) => join(j.out, f)), ...j.targets]))];

  const verifyTimes = [];
  const readelfTimes = [];
  for (let i = 0; i < RUNS; i++) {
    // Cold: every module file is read again in each run (a file shared by two patches once per run).
    clearModuleImageCache();
    let t0 = process.hrtime.bigint();
    for (const j of jobs) {
      const r = verifySplit(j.out, { targets: j.targets, noExplore: true });
      if (!r.ok) throw new Error(`verify failed for ${j.out}`);
    }
    verifyTimes.push(ms(t0));
    t0 = process.hrtime.bigint();
    execFileSync('readelf', ['-sr', '-W', ...kos], { maxBuffer: 1 << 30 });
    readelfTimes.push(ms(t0));
  }

  const example = join(root, 'example');
  cpSync('examples', example, { recursive: true });
  const mods = ['klpd-counter', 'klpd-parser', 'klpd-ticker'];
  for (const m of mods) if (!(await buildModules(join(example, 'modules', m), [`${m}.c`], tree)).ok) throw new Error(m);
  const out = join(example, 'out');
  writeSplitFiles(out, splitFile(join(example, 'livepatches/klpd-fix/klpd-fix.c')).files);
  if (!(await buildSplit(out, tree)).ok) throw new Error('klpd-fix');
  const loaded = loadSplitSystem(out, mods.map((m) => join(example, 'modules', m, `${m}.ko`)));
  const rates = [];
  let count = 0;
  for (let i = 0; i < RUNS; i++) {
    const r = explore(loaded.sys, loaded.manifest.patch, loaded.targets.map((t) => t.name));
    count = r.interleavings;
    rates.push((r.interleavings / r.ms) * 1000);
  }

  // Every scenario of test-callbacks.sh, in the upstream mode on the unmodified test modules and on the split ones.
  const scenarioDir = 'test/golden/split-callbacks';
  const scenarios = readdirSync(scenarioDir).filter((f) => f.endsWith('.scenario')).map((f) => parseScenario(readFileSync(join(scenarioDir, f), 'utf8'), f));
  const testMods = ['test_klp_callbacks_demo', 'test_klp_callbacks_demo2', 'test_klp_callbacks_mod', 'test_klp_callbacks_busy'];
  const upDir = join(root, 'upstream');
  for (const m of testMods) cpSync(join(corpus, 'lib/livepatch', `${m}.c`), join(upDir, `${m}.c`));
  if (!(await buildModules(upDir, testMods.map((m) => `${m}.c`), tree)).ok) throw new Error('test modules');
  const vmlinux = loadSymvers(tree.symvers).vmlinux;
  const upstream = { layout: readLayout(await stockLayoutProbe(tree)), vmlinuxExports: vmlinux, vmlinuxSymbols: vmlinuxSymbolSource(vmlinux, tree.kallsyms), images: testMods.map((m) => loadModuleImage(join(upDir, `${m}.ko`))) };
  const demo = loadSplitSystem(join(root, 'test_klp_callbacks_demo'), ['test_klp_callbacks_mod', 'test_klp_callbacks_busy'].map((t) => join(targetsDir, `${t}.ko`)));
  const demo2 = loadSplitSystem(join(root, 'test_klp_callbacks_demo2'), []);
  const split = { ...demo.sys, images: [...demo.sys.images, ...demo2.parts.map((p) => p.image)] };
  const replayTimes = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = process.hrtime.bigint();
    for (const steps of scenarios) {
      runScenario(newKernel(upstream), steps);
      runScenario(newKernel(split), steps);
    }
    replayTimes.push(ms(t0));
  }

  const v = median(verifyTimes);
  const re = median(readelfTimes);
  console.log(`machine: ${cpus().length} x ${cpus()[0]?.model}, node ${process.version}; medians of ${RUNS} runs`);
  console.log(`verify (no exploration) of ${jobs.length} corpus splits, ${kos.length} .ko files with their targets: ${v.toFixed(1)} ms`);
  console.log(`readelf -sr -W over the same ${kos.length} files: ${re.toFixed(1)} ms`);
  console.log(`verify / readelf: ${(v / re).toFixed(2)} (target < 1) ${v < re ? 'target met' : 'TARGET MISSED'}`);
  console.log(`explorer, klpd-fix with 3 targets: ${count} interleavings per run, ${Math.round(median(rates))} interleavings/s`);
  console.log(`vmlinux symbols: ${tree.kallsyms ?? 'Module.symvers exports only (no kallsyms dump cached)'}`);
  const replay = median(replayTimes);
  console.log(`replaying the ${scenarios.length} test-callbacks.sh scenarios in both modes (${scenarios.length * 2} runs): ${replay.toFixed(1)} ms (target < 1000) ${replay < 1000 ? 'target met' : 'TARGET MISSED'}`);
} finally {
  rmSync(root, { recursive: true, force: true });
}

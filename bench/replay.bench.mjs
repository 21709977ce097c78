// Scenario replay benchmark (issue 7): every scenario the test suite replays,
// in one process: the selftests' scenarios (test-callbacks, test-livepatch,
// test-state, test-sysfs, test-ftrace, test-shadow-vars) in the upstream
// mode on the unmodified lib/livepatch test modules and in split mode on
// their splits, and the differential fault cases (those on livepatch
// relocations too) in the upstream mode on their generated modules. Building and reading the modules is not timed;
// each timed run starts every scenario in a fresh simulated kernel.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildModules, buildSplit, stockLayoutProbe } from '../packages/kbuild-gen/dist/index.js';
import { discoverKernelTree, kernelEnv, loadSymvers } from '../packages/kernel-facts/dist/index.js';
import { loadModuleImage, loadSplitSystem, newKernel, parseScenario, readLayout, runScenario, vmlinuxSymbolSource } from '../packages/runtime-sim/dist/index.js';
import { writeSplitFiles } from './write-split.mjs';
import { splitFile } from '../packages/splitter/dist/index.js';

const RUNS = 5;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
const repo = resolve(import.meta.dirname, '..');
const corpus = kernelEnv().KLP_CORPUS;
const libLivepatch = join(corpus, 'lib/livepatch');
const readScenario = (file) => parseScenario(readFileSync(file, 'utf8'), file);

const root = mkdtempSync(join(tmpdir(), 'klp-split-replay-bench-'));
// The fault catalogue is TypeScript test code: compiled where node finds the workspace packages.
const compiled = join(repo, 'node_modules/.cache/klp-split-bench');
try {
  console.log('building the test modules, their splits and the fault modules (not timed)...');
  rmSync(compiled, { recursive: true, force: true });
  execFileSync('npx', ['tsc', '--outDir', compiled, '--rootDir', 'test/differential', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--skipLibCheck', '--ignoreConfig', '--types', 'node', 'test/differential/catalogue.ts', 'test/differential/module-source.ts', 'test/differential/kernel-facts.ts', 'test/differential/reloc-catalogue.ts', 'test/differential/reloc-module-source.ts', 'test/differential/reloc-kernel-facts.ts', 'test/differential/reloc-edit.ts'], { cwd: repo, stdio: 'inherit' });
  const { faultCatalogue } = await import(join(compiled, 'catalogue.js'));
  const { moduleSource } = await import(join(compiled, 'module-source.js'));
  const { kernelFacts } = await import(join(compiled, 'kernel-facts.js'));
  const { relocFaultCatalogue } = await import(join(compiled, 'reloc-catalogue.js'));
  const { relocLivepatchSource } = await import(join(compiled, 'reloc-module-source.js'));
  const { relocKernelFacts } = await import(join(compiled, 'reloc-kernel-facts.js'));
  const { applyRelocEdit } = await import(join(compiled, 'reloc-edit.js'));

  const tree = discoverKernelTree();
  const vmlinux = loadSymvers(tree.symvers).vmlinux;
  const kallsyms = tree.kallsyms;
  const layout = readLayout(await stockLayoutProbe(tree));
  const upstreamSystem = (kos) => ({ layout, vmlinuxExports: vmlinux, vmlinuxSymbols: vmlinuxSymbolSource(vmlinux, kallsyms), images: kos.map((k) => loadModuleImage(k)) });

  // Upstream: every lib/livepatch test module, unmodified.
  const testDir = join(root, 'lib-livepatch');
  const testSources = readdirSync(libLivepatch).filter((f) => f.endsWith('.c'));
  for (const f of testSources) cpSync(join(libLivepatch, f), join(testDir, f));
  if (!(await buildModules(testDir, testSources, tree)).ok) throw new Error('building the test modules failed');
  const upstream = upstreamSystem(testSources.map((f) => join(testDir, f.replace(/\.c$/, '.ko'))));

  // Split: every test livepatch split and built, with the unmodified targets.
  const targets = ['test_klp_callbacks_mod', 'test_klp_callbacks_busy', 'test_klp_shadow_vars'].map((t) => join(testDir, `${t}.ko`));
  const parts = [];
  let splitBase;
  for (const f of testSources) {
    const r = splitFile(join(libLivepatch, f));
    if (r.kind !== 'split') continue;
    const out = join(root, 'split', f.replace(/\.c$/, ''));
    writeSplitFiles(out, r.files);
    if (!(await buildSplit(out, tree)).ok) throw new Error(`building the split of ${f} failed`);
    const loaded = loadSplitSystem(out, targets);
    splitBase ??= loaded;
    parts.push(...loaded.parts.map((p) => p.image));
  }
  const split = { ...splitBase.sys, images: [...parts, ...splitBase.targets] };

  const runs = [];
  const callbacks = join(repo, 'test/golden/split-callbacks');
  for (const f of readdirSync(callbacks).filter((x) => x.endsWith('.scenario'))) {
    const steps = readScenario(join(callbacks, f));
    runs.push({ sys: upstream, steps }, { sys: split, steps });
  }
  const upstreamDir = join(repo, 'test/golden/upstream');
  for (const script of readdirSync(upstreamDir)) {
    for (const f of readdirSync(join(upstreamDir, script)).filter((x) => x.endsWith('.scenario'))) {
      runs.push({ sys: upstream, steps: readScenario(join(upstreamDir, script, f)) });
      if (script === 'test-shadow-vars') continue;
      const rewrite = join(repo, 'test/golden/split-selftests', script, f);
      runs.push({ sys: split, steps: readScenario(existsSync(rewrite) ? rewrite : join(upstreamDir, script, f)) });
    }
  }
  const selftestRuns = runs.length;

  // The differential fault cases, each in a kernel holding its own modules.
  const faultDir = join(root, 'faults');
  mkdirSync(faultDir);
  const cases = faultCatalogue(kernelFacts());
  const specs = new Map(cases.flatMap((c) => c.modules).map((m) => [m.name, m]));
  for (const m of specs.values()) writeFileSync(join(faultDir, `${m.name}.c`), moduleSource(m));
  const faultBuild = await buildModules(faultDir, [...specs.keys()].map((n) => `${n}.c`), tree);
  if (!faultBuild.ok) throw new Error(`building the fault modules failed:\n${faultBuild.output}`);
  for (const c of cases) {
    const steps = parseScenario(c.steps.join('\n'), `${c.id}.scenario`);
    runs.push({ sys: upstreamSystem(c.modules.map((m) => join(faultDir, `${m.name}.ko`))), steps });
  }

  const faultRuns = runs.length - selftestRuns;

  // The differential relocation fault cases: built with the relocation pass, then edited as the suite edits them.
  const relocDir = join(root, 'reloc-faults');
  mkdirSync(relocDir);
  const relocCases = relocFaultCatalogue(relocKernelFacts());
  const relocSpecs = new Map(relocCases.flatMap((c) => c.modules).map((m) => [m.name, m]));
  for (const m of relocSpecs.values()) writeFileSync(join(relocDir, `${m.name}.c`), m.kind === 'target' ? moduleSource(m) : relocLivepatchSource(m));
  const relocBuild = await buildModules(relocDir, [...relocSpecs.keys()].map((n) => `${n}.c`), tree);
  if (!relocBuild.ok) throw new Error(`building the relocation fault modules failed:\n${relocBuild.output}`);
  for (const c of relocCases) for (const e of c.edits ?? []) applyRelocEdit(join(relocDir, `${e.module}.ko`), e.edit);
  for (const c of relocCases) {
    const steps = parseScenario(c.steps.join('\n'), `${c.id}.scenario`);
    runs.push({ sys: upstreamSystem(c.modules.map((m) => join(relocDir, `${m.name}.ko`))), steps });
  }

  const times = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = process.hrtime.bigint();
    for (const r of runs) runScenario(newKernel(r.sys), r.steps);
    times.push(ms(t0));
  }
  const t = median(times);
  console.log(`machine: ${cpus().length} x ${cpus()[0]?.model}, node ${process.version}; median of ${RUNS} runs`);
  console.log(`vmlinux symbols: ${kallsyms ?? 'Module.symvers exports only (no kallsyms dump cached)'}`);
  console.log(`replaying every scenario: ${selftestRuns} selftest runs (both modes) + ${faultRuns} differential fault cases + ${relocCases.length} relocation fault cases = ${runs.length} runs: ${t.toFixed(1)} ms (min ${Math.min(...times).toFixed(1)}, max ${Math.max(...times).toFixed(1)}; target < 1000) ${t < 1000 ? 'target met' : 'TARGET MISSED'}`);
} finally {
  rmSync(root, { recursive: true, force: true });
  rmSync(compiled, { recursive: true, force: true });
}

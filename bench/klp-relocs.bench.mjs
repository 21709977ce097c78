// Livepatch relocation pass benchmark (issue 12): every livepatch module of
// the corpus (the ten livepatches of linux-source-6.1, split, and the same
// ten built classic in one directory), of examples/ (klpd-fix, split) and
// test/fixtures/klp-relocs' klpr-fix (split and classic: it has static
// symbols to convert) is
// built with kbuild and the pass turned off; then the pass
// (@klp-split/klp-relocs, as `klp-split build` runs it after the link) runs
// over copies of the linked modules. Reports the pass's time against the
// kbuild time of the same modules (target < 5%). Like the build, the pass
// is told which modules modpost found undefined symbols in: the others are
// not read.
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { buildModules, buildSplit, classicObjects, undefinedReports } from '../packages/kbuild-gen/dist/index.js';
import { discoverKernelTree, kernelEnv } from '../packages/kernel-facts/dist/index.js';
import { splitSource } from '../packages/splitter/dist/index.js';
import { writeSplitFiles } from './write-split.mjs';

const LIVEPATCHES = [
  'samples/livepatch/livepatch-callbacks-demo.c',
  'samples/livepatch/livepatch-sample.c',
  'samples/livepatch/livepatch-shadow-fix1.c',
  'samples/livepatch/livepatch-shadow-fix2.c',
  'lib/livepatch/test_klp_atomic_replace.c',
  'lib/livepatch/test_klp_callbacks_demo.c',
  'lib/livepatch/test_klp_callbacks_demo2.c',
  'lib/livepatch/test_klp_livepatch.c',
  'lib/livepatch/test_klp_state.c',
  'lib/livepatch/test_klp_state2.c',
];
const ROUNDS = 5;

const corpus = kernelEnv().KLP_CORPUS;
const tree = discoverKernelTree();
const root = mkdtempSync(join(tmpdir(), 'klp-split-relocs-bench-'));
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;

try {
  const builds = [];
  // klpr-fix (test/fixtures/klp-relocs) is one whose fixes reach static symbols: it has relocations to convert.
  const klpr = join(import.meta.dirname, '../test/fixtures/klp-relocs/livepatches/klpr-fix.c');
  const sources = [...LIVEPATCHES.map((f) => join(corpus, f)), join(import.meta.dirname, '../examples/livepatches/klpd-fix/klpd-fix.c'), klpr];
  for (const src of sources) {
    const dir = join(root, basename(src, '.c'));
    const result = splitSource(basename(src), readFileSync(src, 'latin1'));
    writeSplitFiles(dir, result.files);
    const t0 = process.hrtime.bigint();
    const r = await buildSplit(dir, tree, { relocs: { relocs: false }, makeVars: { KBUILD_MODPOST_WARN: '1' } });
    if (!r.ok) throw new Error(`build of ${dir} failed:\n${r.output}`);
    builds.push({ dir, modules: r.modules, kbuildMs: ms(t0), symvers: [tree.symvers, r.overlay.extraSymvers, join(dir, 'Module.symvers')].filter(Boolean), undefinedIn: [...undefinedReports(r.diagnostics, dir)] });
  }
  const classic = join(root, 'classic');
  mkdirSync(classic);
  for (const f of LIVEPATCHES) cpSync(join(corpus, f), join(classic, basename(f)));
  cpSync(klpr, join(classic, 'klpr-fix.c'));
  const t0 = process.hrtime.bigint();
  const r = await buildModules(classic, [...LIVEPATCHES.map((f) => basename(f)), 'klpr-fix.c'], tree, { relocs: { relocs: false }, makeVars: { KBUILD_MODPOST_WARN: '1' } });
  if (!r.ok) throw new Error(`build of ${classic} failed:\n${r.output}`);
  builds.push({ dir: classic, modules: r.modules, kbuildMs: ms(t0), symvers: [tree.symvers, join(classic, 'Module.symvers')], objects: [...classicObjects(classic)], undefinedIn: [...undefinedReports(r.diagnostics, classic)] });
  for (const b of builds) for (const m of b.modules) copyFileSync(m.ko, `${m.ko}.linked`);

  const kbuildMs = builds.reduce((n, b) => n + b.kbuildMs, 0);
  const modules = builds.reduce((n, b) => n + b.modules.length, 0);
  // Each `klp-split build` is a process of its own: every build's pass runs in a fresh one, so the facts it
  // loads (Module.symvers, the kallsyms dump when a module needs vmlinux's symbols) count every time.
  const script = `
    import { runRelocsPass } from ${JSON.stringify(join(import.meta.dirname, '../packages/kbuild-gen/dist/index.js'))};
    const b = JSON.parse(process.argv[1]);
    const t0 = process.hrtime.bigint();
    const pass = runRelocsPass(b.dir, b.modules, { symvers: b.symvers, objects: b.objects && new Map(b.objects), opts: { kallsyms: b.kallsyms }, link: { since: 0, undefinedIn: new Set(b.undefinedIn) } });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (pass.diagnostics.some((d) => d.severity === 'error')) throw new Error(JSON.stringify(pass.diagnostics));
    console.log(JSON.stringify({ ms, written: pass.outcomes.filter((o) => o.written).length }));`;
  const rounds = [];
  for (let round = 0; round < ROUNDS; round++) {
    for (const b of builds) for (const m of b.modules) copyFileSync(`${m.ko}.linked`, m.ko);
    let passMs = 0;
    let converted = 0;
    for (const b of builds) {
      const arg = JSON.stringify({ dir: b.dir, modules: b.modules, kallsyms: tree.kallsyms, symvers: b.symvers, objects: b.objects, undefinedIn: b.undefinedIn });
      const r = spawnSync('node', ['--input-type=module', '-e', script, arg], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`pass over ${b.dir} failed:\n${r.stderr}`);
      const { ms: passOne, written } = JSON.parse(r.stdout.trim().split('\n').at(-1));
      passMs += passOne;
      converted += written;
    }
    rounds.push(passMs);
    console.log(`round ${round + 1}: pass over ${modules} modules in ${builds.length} processes (${converted} rewritten) ${passMs.toFixed(1)} ms`);
  }
  const median = [...rounds].sort((a, b) => a - b)[Math.floor(rounds.length / 2)];
  console.log(`machine: ${cpus().length} x ${cpus()[0]?.model}`);
  console.log(`kbuild of the same ${modules} modules in ${builds.length} builds: ${(kbuildMs / 1000).toFixed(2)} s`);
  const ratio = median / kbuildMs;
  console.log(`pass: ${median.toFixed(1)} ms (median of ${ROUNDS}); pass / kbuild: ${(100 * ratio).toFixed(2)}% (target < 5%) ${ratio < 0.05 ? 'target met' : 'TARGET MISSED'}`);
  if (ratio >= 0.05) process.exitCode = 1;
} finally {
  rmSync(root, { recursive: true, force: true });
}

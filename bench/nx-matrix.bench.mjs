// Kernel matrix under Nx (issue 16): the example workspace (3 modules, 1
// livepatch) installed from the packed tarballs into a fresh workspace, with
// the plugin option kernels listing every installed kernel that has a
// kallsyms dump (klp-split kernel add). Times `nx run-many -t verify`
// three ways: the tasks one after another (--parallel=1), with Nx's
// parallelism (--parallel=<cpus>), and all from the cache.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const ENV = { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', CI: 'true' };
const NX_VERSION = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).devDependencies.nx;

function run(cmd, args, cwd) {
  const r = spawnSync(cmd, args, { cwd, env: ENV, encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

const kernels = JSON.parse(run('node', [join(ROOT, 'packages/nx/bin/klp-split.js'), 'kernel', 'list', '--json'], ROOT)).filter((k) => k.kallsyms).map((k) => k.release);
if (kernels.length === 0) throw new Error('no kernel with a kallsyms dump: run klp-split kernel add <release> first');

const tmp = mkdtempSync(join(tmpdir(), 'klp-split-nx-matrix-bench-'));
try {
  const packs = join(tmp, 'packs');
  mkdirSync(packs);
  run('npm', ['pack', '--silent', '--pack-destination', packs, ...['core', 'splitter', 'kbuild-gen', 'runtime-sim', 'klp-relocs', 'nx'].flatMap((p) => ['--workspace', `packages/${p}`])], ROOT);
  const ws = join(tmp, 'ws');
  mkdirSync(ws);
  run('npm', ['init', '-y'], ws);
  run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', `nx@${NX_VERSION}`, ...readdirSync(packs).map((f) => join(packs, f))], ws);
  cpSync(join(ROOT, 'examples/modules'), join(ws, 'modules'), { recursive: true });
  cpSync(join(ROOT, 'examples/livepatches'), join(ws, 'livepatches'), { recursive: true });
  writeFileSync(join(ws, '.gitignore'), 'node_modules/\n.nx/\n');
  writeFileSync(join(ws, 'nx.json'), JSON.stringify({ plugins: [{ plugin: '@klp-split/nx', options: { kernels } }] }));
  const nx = join(ws, 'node_modules/.bin/nx');
  const timed = (label, args) => {
    const t0 = process.hrtime.bigint();
    const out = run(nx, ['run-many', '-t', 'verify', '--output-style=static', ...args], ws);
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    const tasks = (out.replace(/\x1b\[[0-9;]*m/g, '').match(/^> nx run /gm) ?? []).length;
    console.log(`${label.padEnd(34)} ${s.toFixed(1).padStart(6)} s  (${tasks} tasks)`);
    return s;
  };
  const parallel = Math.max(2, cpus().length);
  console.log(`${kernels.length} kernels (${kernels.join(', ')}) x (3 module builds + split, build, verify of 1 livepatch)`);
  const serial = timed('one after another (--parallel=1)', ['--parallel=1', '--skip-nx-cache']);
  const par = timed(`Nx parallelism (--parallel=${parallel})`, [`--parallel=${parallel}`, '--skip-nx-cache']);
  const cached = timed('all from the cache', [`--parallel=${parallel}`]);
  console.log(`machine: ${cpus().length} x ${cpus()[0]?.model}`);
  console.log(`speed-up of Nx parallelism: ${(serial / par).toFixed(2)}x; cached run: ${((cached / serial) * 100).toFixed(1)}% of the serial run`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

// Kernel matrix under Nx (issue 16): the example workspace (3 modules, 1
// livepatch) installed from the packed tarballs into a fresh workspace, with
// the plugin option kernels listing every installed kernel that has a
// kallsyms dump (klp-split kernel add). Times `nx run-many -t verify`
// four ways: the tasks one after another (--parallel=1), with Nx's
// parallelism (--parallel=<cpus>), all from the cache, and in a second
// clone on another path that gets them from a shared cache directory
// (klp-split-cache-server, Nx's self-hosted remote cache protocol).
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const ENV = { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', CI: 'true' };
const NX_VERSION = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).devDependencies.nx;

function run(cmd, args, cwd, env = {}) {
  const r = spawnSync(cmd, args, { cwd, env: { ...ENV, ...env }, encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

const kernels = JSON.parse(run('node', [join(ROOT, 'packages/nx/bin/klp-split.js'), 'kernel', 'list', '--json'], ROOT)).filter((k) => k.kallsyms).map((k) => k.release);
if (kernels.length === 0) throw new Error('no kernel with a kallsyms dump: run klp-split kernel add <release> first');

const tmp = mkdtempSync(join(tmpdir(), 'klp-split-nx-matrix-bench-'));
try {
  const packs = join(tmp, 'packs');
  mkdirSync(packs);
  run('npm', ['pack', '--silent', '--pack-destination', packs, ...['core', 'kernel-facts', 'splitter', 'runtime-sim', 'klp-relocs', 'kbuild-gen', 'nx'].flatMap((p) => ['--workspace', `packages/${p}`])], ROOT);
  const ws = join(tmp, 'ws');
  mkdirSync(ws);
  run('npm', ['init', '-y'], ws);
  run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', `nx@${NX_VERSION}`, ...readdirSync(packs).map((f) => join(packs, f))], ws);
  cpSync(join(ROOT, 'examples/modules'), join(ws, 'modules'), { recursive: true });
  cpSync(join(ROOT, 'examples/livepatches'), join(ws, 'livepatches'), { recursive: true });
  writeFileSync(join(ws, '.gitignore'), 'node_modules/\n.nx/\nout/\n');
  writeFileSync(join(ws, 'nx.json'), JSON.stringify({ plugins: [{ plugin: '@klp-split/nx', options: { kernels } }] }));
  const git = ['-c', 'user.name=bench', '-c', 'user.email=bench@klp-split.invalid'];
  run('git', ['init', '-q'], ws);
  run('git', ['add', '-A'], ws);
  run('git', [...git, 'commit', '-qm', 'workspace'], ws);
  // The shared cache: a directory standing for a network share, served to each clone by its own server.
  const share = join(tmp, 'share');
  const token = randomBytes(16).toString('hex');
  const server = spawn(process.execPath, [join(ws, 'node_modules/@klp-split/nx/bin/klp-split-cache-server.js'), '--dir', share], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, KLP_SPLIT_CACHE_WRITE_TOKEN: token } });
  const [url] = await once(createInterface({ input: server.stdout }), 'line');
  // Each clone a machine of its own: its own local cache (else Nx 24 shares ~/.nx between clones of one repository).
  const cloneEnv = (dir) => ({ NX_CACHE_DIRECTORY: join(dir, '.nx/local-cache'), NX_SELF_HOSTED_REMOTE_CACHE_SERVER: url, NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN: token });
  const timed = (label, dir, args) => {
    const t0 = process.hrtime.bigint();
    const out = run(join(dir, 'node_modules/.bin/nx'), ['run-many', '-t', 'verify', '--output-style=static', ...args], dir, cloneEnv(dir));
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    const lines = out.replace(/\x1b\[[0-9;]*m/g, '').match(/^> nx run .*$/gm) ?? [];
    const remote = lines.filter((l) => l.includes('[remote cache]')).length;
    const local = lines.filter((l) => l.includes('[local cache]') || l.includes('[existing outputs match the cache')).length;
    console.log(`${label.padEnd(40)} ${s.toFixed(1).padStart(6)} s  (${lines.length} tasks, ${local} from the local cache, ${remote} from the shared cache)`);
    return s;
  };
  try {
    const parallel = Math.max(2, cpus().length);
    console.log(`${kernels.length} kernels (${kernels.join(', ')}) x (3 module builds + split, build, verify of 1 livepatch)`);
    const serial = timed('one after another (--parallel=1)', ws, ['--parallel=1', '--skip-nx-cache']);
    // --skip-nx-cache stores nothing either: this run starts from an empty cache, and fills it (and the share).
    const par = timed(`Nx parallelism (--parallel=${parallel})`, ws, [`--parallel=${parallel}`]);
    const cached = timed('all from the cache', ws, [`--parallel=${parallel}`]);
    const wsB = join(tmp, 'second-clone');
    run('git', ['clone', '-q', ws, wsB], tmp);
    run('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund'], wsB);
    const shared = timed('second clone, from the shared cache', wsB, [`--parallel=${parallel}`]);
    console.log(`machine: ${cpus().length} x ${cpus()[0]?.model}`);
    console.log(`speed-up of Nx parallelism: ${(serial / par).toFixed(2)}x; cached run: ${((cached / serial) * 100).toFixed(1)}% of the serial run; second clone: ${((shared / serial) * 100).toFixed(1)}%`);
  } finally {
    server.kill('SIGTERM');
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

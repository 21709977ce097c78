import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeDir, tempDir } from '../helpers/env.js';
import { cloneUserWorkspace, createUserWorkspace, matrixKernels, must, nxCacheHits, nxTaskLines, PACKAGES, run } from '../helpers/user-workspace.js';

/**
 * Issue 16: klp-split as a user installs it. Every workspace package is
 * packed with `npm pack`; a fresh directory (`npm init -y`) installs nx and
 * the tarballs, nothing else from this repository, and copies the example's
 * modules and livepatch in. The plugin is registered by its package name.
 *
 * Then a second clone of that workspace, on another path, shares one cache
 * directory (standing for a network share) with the first through Nx's own
 * self-hosted remote cache client (NX_SELF_HOSTED_REMOTE_CACHE_SERVER) and
 * the package's klp-split-cache-server, one server per "machine" over the
 * same directory. Each clone has a cache directory of its own
 * (NX_CACHE_DIRECTORY; Nx 24 may otherwise put clones of one git repository
 * in one per-user cache under ~/.nx): what the second one gets, it gets from
 * the share.
 */
let tmp: string;
/** The first clone: where the user installed klp-split. */
let ws: string;
let cloneB: string;
let share: string;
/** Debian's 6.1 release of the kernel environment and the newest 6.12 amd64 release apt offers: discovered, never written down. */
let kernels: string[];

/** The CI's two tokens: main's jobs store (the first clone), pull requests' jobs only read (the second). */
const TOKENS = { KLP_SPLIT_CACHE_WRITE_TOKEN: 'main-job-token-7f3a', KLP_SPLIT_CACHE_READ_TOKEN: 'pull-request-token-91c2' };

interface Server {
  child: ChildProcess;
  url: string;
  log: string[];
}
const servers: Server[] = [];
let serverA: Server;
let serverB: Server;

/** One klp-split-cache-server over the share, from the clone's installed package, on a free port: its URL is its first line. */
async function startServer(clone: string): Promise<Server> {
  const child = spawn(process.execPath, [join(clone, 'node_modules/@klp-split/nx/bin/klp-split-cache-server.js'), '--dir', share, '--verbose'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...TOKENS } });
  const log: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (l) => log.push(l));
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`klp-split-cache-server exited (${code}):\n${log.join('\n')}`)));
  });
  const s = { child, url, log };
  servers.push(s);
  return s;
}

/** nx in a clone, as a machine of its own: its own local cache, the shared one through its server with its token. */
const nxIn = (clone: string, args: string[], server: Server, token: string) =>
  run(join(clone, 'node_modules/.bin/nx'), args, clone, {
    NX_CACHE_DIRECTORY: join(clone, '.nx/local-cache'),
    NX_SELF_HOSTED_REMOTE_CACHE_SERVER: server.url,
    NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN: token,
  });
const nx = (args: string[]) => nxIn(ws, args, serverA, TOKENS.KLP_SPLIT_CACHE_WRITE_TOKEN);
const verifyAll = ['run-many', '-t', 'verify', '--output-style=static'];

beforeAll(async () => {
  tmp = tempDir('user-ws');
  ws = join(tmp, 'ws');
  cloneB = join(tmp, 'clone-b');
  share = join(tmp, 'share');
  mkdirSync(share);
  await createUserWorkspace(ws);
  kernels = await matrixKernels(ws);
  await must(join(ws, 'node_modules/.bin/klp-split'), ['kernel', 'add', ...kernels], ws);
  await must(join(ws, 'node_modules/.bin/nx'), ['g', '@klp-split/nx:init', ...kernels.map((k) => `--kernels=${k}`)], ws);
  const git = ['-c', 'user.name=klp-split tests', '-c', 'user.email=tests@klp-split.invalid'];
  await must('git', ['init', '-q'], ws);
  await must('git', ['add', '-A'], ws);
  await must('git', [...git, 'commit', '-qm', 'workspace'], ws);
  await must('git', ['clone', '-q', ws, cloneB], tmp);
  await cloneUserWorkspace(cloneB);
  serverA = await startServer(ws);
  serverB = await startServer(cloneB);
}, 1_200_000);

afterAll(async () => {
  for (const s of servers) {
    s.child.kill('SIGTERM');
    await new Promise((r) => (s.child.exitCode === null ? s.child.once('exit', r) : r(undefined)));
  }
  if (tmp) removeDir(tmp);
});

/** The per-kernel tasks (the aggregate verify/build targets are nx:noop), with what Nx says after each (Nx quotes a target name with a colon: klpd-fix:"verify:6.1.0-57-amd64"). */
const perKernel = (output: string) => nxTaskLines(output).filter((t) => kernels.some((k) => t.task.endsWith(`:${k}`)));
/** Per-kernel tasks Nx ran rather than replayed from a cache. */
const kernelTasks = (output: string): string[] =>
  perKernel(output)
    .filter((t) => !t.note.includes('cache'))
    .map((t) => t.task)
    .sort();
const MODULES = ['klpd-counter', 'klpd-parser', 'klpd-ticker'];
/** Every per-kernel task of `nx run-many -t verify`. */
const allTasks = () => kernels.flatMap((k) => MODULES.map((m) => `${m}:build:${k}`).concat([`klpd-fix:split:${k}`, `klpd-fix:build:${k}`, `klpd-fix:verify:${k}`])).sort();

let first: { code: number | undefined; output: string };

describe('klp-split installed from its packed tarballs into a fresh workspace', () => {
  it('installs every package as a real copy (no link back into this repository), with the kernel environment script inside kbuild-gen and the qemu harness inside nx', () => {
    for (const p of PACKAGES) {
      const dir = realpathSync(join(ws, 'node_modules/@klp-split', p));
      expect(dir.startsWith(realpathSync(ws))).toBe(true);
      expect(readdirSync(join(dir, 'dist')).length).toBeGreaterThan(0);
      // Compiled output only: no TypeScript sources, tests or build configuration.
      const files = readdirSync(dir, { recursive: true, encoding: 'utf8' });
      expect(files.filter((f) => /\.ts$/.test(f) && !f.endsWith('.d.ts'))).toEqual([]);
      expect(files.filter((f) => /\.test\.|tsconfig|\.tsbuildinfo$/.test(f))).toEqual([]);
    }
    expect(readdirSync(join(ws, 'node_modules/@klp-split/kernel-facts/scripts'))).toContain('kernel-env.sh');
    expect(readdirSync(join(ws, 'node_modules/@klp-split/nx/scripts'))).toContain('qemu-kernel.sh');
  });

  it('runs the klp-split bin', async () => {
    const r = await run(join(ws, 'node_modules/.bin/klp-split'), ['--help'], ws);
    expect(r.code, r.output).toBe(0);
    expect(r.output).toContain('Usage: klp-split <command>');
    const id = await run(join(ws, 'node_modules/.bin/klp-split'), ['kernel-id'], ws);
    expect(id.code, id.output).toBe(0);
    expect(id.output).toMatch(/^\d+\.\d+\.\d+-\S+ [0-9a-f]{16} \//m);
  });

  it('registers the plugin by its package name with its kernels (nx g @klp-split/nx:init): a task per kernel', async () => {
    expect(JSON.parse(readFileSync(join(ws, 'nx.json'), 'utf8')).plugins).toEqual([{ plugin: '@klp-split/nx', options: { kernels } }]);
    const r = await nx(['graph', `--file=${join(tmp, 'graph.json')}`]);
    expect(r.code, r.output).toBe(0);
    const nodes = JSON.parse(readFileSync(join(tmp, 'graph.json'), 'utf8')).graph.nodes as Record<string, { data: { targets: Record<string, { dependsOn?: unknown[] }> } }>;
    expect(Object.keys(nodes)).toEqual(expect.arrayContaining(['klpd-fix', ...MODULES]));
    const { targets } = nodes['klpd-fix']!.data;
    for (const k of kernels) {
      expect(Object.keys(targets)).toEqual(expect.arrayContaining([`split:${k}`, `build:${k}`, `verify:${k}`]));
      expect(targets[`verify:${k}`]!.dependsOn).toContainEqual({ projects: MODULES, target: `build:${k}` });
    }
    expect(targets.verify!.dependsOn).toEqual(kernels.map((k) => `verify:${k}`));
  });

  it('verifies on every kernel as separate tasks, storing each in the shared directory; a second run is entirely from the cache', async () => {
    first = await nx(verifyAll);
    expect(first.code, first.output).toBe(0);
    expect(perKernel(first.output).map((t) => t.task).sort()).toEqual(allTasks());
    expect(perKernel(first.output).filter((t) => t.note !== '')).toEqual([]);
    expect(readdirSync(share).filter((f) => !f.startsWith('.'))).toHaveLength(allTasks().length);
    for (const k of kernels) {
      const report = JSON.parse(readFileSync(join(ws, 'livepatches/klpd-fix/out', k, 'verify.json'), 'utf8'));
      expect(report.ok, k).toBe(true);
      expect(readdirSync(join(ws, 'modules/klpd-counter/out', k))).toContain('klpd-counter.ko');
    }
    const second = await nx(verifyAll);
    expect(second.code, second.output).toBe(0);
    expect(kernelTasks(second.output)).toEqual([]);
    // Every task from the cache; the one more task Nx counts is klpd-fix:verify, the nx:noop that runs the kernels' verifies.
    expect(nxCacheHits(second.output), second.output).toEqual({ hits: allTasks().length, tasks: allTasks().length + 1 });
  }, 900_000);
});

describe('a second clone on another path, sharing the cache directory through its own server', () => {
  let second: { code: number | undefined; output: string };
  beforeAll(async () => {
    second = await nxIn(cloneB, verifyAll, serverB, TOKENS.KLP_SPLIT_CACHE_READ_TOKEN);
  }, 600_000);

  it('with the read-only token, gets every task from the shared directory', () => {
    expect(second.code, second.output).toBe(0);
    const tasks = perKernel(second.output);
    expect(tasks.map((t) => t.task).sort()).toEqual(allTasks());
    expect(tasks.filter((t) => t.note !== '[remote cache]')).toEqual([]);
    // Every task but the nx:noop that runs the kernels' verifies (klpd-fix:verify).
    expect(nxCacheHits(second.output)).toEqual({ hits: tasks.length, tasks: tasks.length + 1 });
    // Its server only read: nothing was rebuilt, so nothing new was stored.
    expect(serverB.log.filter((l) => l.startsWith('GET ') && l.endsWith(' 200'))).toHaveLength(tasks.length);
    expect(serverB.log.filter((l) => l.startsWith('PUT '))).toEqual([]);
  });

  it('restores the outputs in the second clone: the same modules and verify reports as the first built', () => {
    for (const k of kernels) {
      const out = (clone: string) => join(clone, 'livepatches/klpd-fix/out', k);
      const kos = readdirSync(out(ws)).filter((f) => f.endsWith('.ko')).sort();
      expect(kos).toEqual(['klpd-fix.ko', 'klpd-fix__klpd-counter.ko', 'klpd-fix__klpd-parser.ko', 'klpd-fix__klpd-ticker.ko']);
      expect(readdirSync(out(cloneB)).filter((f) => f.endsWith('.ko')).sort()).toEqual(kos);
      for (const f of [...kos, 'klp-split.json']) expect(readFileSync(join(out(cloneB), f)).equals(readFileSync(join(out(ws), f))), `${k}/${f}`).toBe(true);
      expect(JSON.parse(readFileSync(join(out(cloneB), 'verify.json'), 'utf8')).ok, k).toBe(true);
      for (const m of MODULES) {
        const ko = (clone: string) => readFileSync(join(clone, 'modules', m, 'out', k, `${m}.ko`));
        expect(ko(cloneB).equals(ko(ws)), `${m} on ${k}`).toBe(true);
      }
    }
  });
});

describe('a touched source in the first clone', () => {
  it("re-runs only the touched module's chain, on both kernels", async () => {
    const file = join(ws, 'modules/klpd-counter/klpd-counter.c');
    writeFileSync(file, `${readFileSync(file, 'utf8')}/* touched by the test suite */\n`);
    const touched = await nx(verifyAll);
    expect(touched.code, touched.output).toBe(0);
    expect(kernelTasks(touched.output)).toEqual(kernels.flatMap((k) => [`klpd-counter:build:${k}`, `klpd-fix:verify:${k}`]).sort());
  }, 600_000);
});

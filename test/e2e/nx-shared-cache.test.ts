import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeDir, tempDir } from '../helpers/env.js';
import { createUserWorkspace, matrixKernels, must, nxCacheHits, nxTaskLines, packAll, run } from '../helpers/user-workspace.js';

/**
 * Issue 16: two clones of a user's workspace, on different paths, share one
 * cache directory (standing for a network share) through Nx's own
 * self-hosted remote cache client (NX_SELF_HOSTED_REMOTE_CACHE_SERVER) and
 * the package's klp-split-cache-server, one server per "machine" over the
 * same directory. Each clone has a cache directory of its own
 * (NX_CACHE_DIRECTORY; Nx 24 may otherwise put clones of one git
 * repository in one per-user cache under ~/.nx): what the second one
 * gets, it gets from the share.
 */
let tmp: string;
let share: string;
let cloneA: string;
let cloneB: string;
let kernels: string[];
const servers: { child: ChildProcess; url: string; log: string[] }[] = [];

/** The CI's two tokens: main's jobs store (clone A), pull requests' jobs only read (clone B). */
const TOKENS = { KLP_SPLIT_CACHE_WRITE_TOKEN: 'main-job-token-7f3a', KLP_SPLIT_CACHE_READ_TOKEN: 'pull-request-token-91c2' };

/** One klp-split-cache-server over the share, on a free port: its URL is its first line. */
async function startServer(ws: string): Promise<(typeof servers)[number]> {
  const child = spawn(process.execPath, [join(ws, 'node_modules/@klp-split/nx/bin/klp-split-cache-server.js'), '--dir', share, '--verbose'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...TOKENS } });
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

/** `nx run-many -t verify` in a clone, as a machine of its own: its own local cache, the shared one through its server. */
const verify = (ws: string, url: string, token: string) =>
  run(join(ws, 'node_modules/.bin/nx'), ['run-many', '-t', 'verify', '--output-style=static'], ws, {
    NX_CACHE_DIRECTORY: join(ws, '.nx/local-cache'),
    NX_SELF_HOSTED_REMOTE_CACHE_SERVER: url,
    NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN: token,
  });

let first: { code: number | undefined; output: string };
let second: { code: number | undefined; output: string };
let serverB: (typeof servers)[number];

beforeAll(async () => {
  tmp = tempDir('shared-cache');
  share = join(tmp, 'share');
  cloneA = join(tmp, 'clone-a');
  cloneB = join(tmp, 'clone-b');
  // The lock file names the tarballs relatively (file:../packs/...): both clones find them beside them.
  await createUserWorkspace(cloneA, await packAll(join(tmp, 'packs')));
  kernels = await matrixKernels(cloneA);
  await must(join(cloneA, 'node_modules/.bin/klp-split'), ['kernel', 'add', ...kernels], cloneA);
  writeFileSync(join(cloneA, 'nx.json'), `${JSON.stringify({ plugins: [{ plugin: '@klp-split/nx', options: { kernels } }] }, null, 2)}\n`);
  // kbuild's products stay out of the repository, as a team's .gitignore keeps them.
  writeFileSync(join(cloneA, '.gitignore'), 'node_modules/\n.nx/\nout/\n');
  const git = ['-c', 'user.name=klp-split tests', '-c', 'user.email=tests@klp-split.invalid'];
  await must('git', ['init', '-q'], cloneA);
  await must('git', ['add', '-A'], cloneA);
  await must('git', [...git, 'commit', '-qm', 'workspace'], cloneA);
  await must('git', ['clone', '-q', cloneA, cloneB], tmp);
  await must('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund'], cloneB);

  first = await verify(cloneA, (await startServer(cloneA)).url, TOKENS.KLP_SPLIT_CACHE_WRITE_TOKEN);
  serverB = await startServer(cloneB);
  second = await verify(cloneB, serverB.url, TOKENS.KLP_SPLIT_CACHE_READ_TOKEN);
}, 1_500_000);

afterAll(async () => {
  for (const s of servers) {
    s.child.kill('SIGTERM');
    await new Promise((r) => (s.child.exitCode === null ? s.child.once('exit', r) : r(undefined)));
  }
  if (tmp) removeDir(tmp);
});

/** The per-kernel tasks (the aggregate verify targets are nx:noop). */
const perKernel = (output: string) => nxTaskLines(output).filter((t) => kernels.some((k) => t.task.endsWith(`:${k}`)));

describe('two clones sharing one cache directory', () => {
  it('the first clone runs every task and stores each in the shared directory', () => {
    expect(first.code, first.output).toBe(0);
    const tasks = perKernel(first.output);
    expect(tasks).toHaveLength(kernels.length * 6);
    expect(tasks.filter((t) => t.note !== '')).toEqual([]);
    expect(readdirSync(share).filter((f) => !f.startsWith('.'))).toHaveLength(tasks.length);
  });

  it('the second clone, on another path and with the read-only token, gets every task from the shared directory', () => {
    expect(second.code, second.output).toBe(0);
    const tasks = perKernel(second.output);
    expect(tasks.map((t) => t.task).sort()).toEqual(perKernel(first.output).map((t) => t.task).sort());
    expect(tasks.filter((t) => t.note !== '[remote cache]')).toEqual([]);
    // Every task but the nx:noop that runs the kernels' verifies (klpd-fix:verify).
    expect(nxCacheHits(second.output)).toEqual({ hits: tasks.length, tasks: tasks.length + 1 });
    // Its server only read: nothing was rebuilt, so nothing new was stored.
    expect(serverB.log.filter((l) => l.startsWith('GET ') && l.endsWith(' 200'))).toHaveLength(tasks.length);
    expect(serverB.log.filter((l) => l.startsWith('PUT '))).toEqual([]);
  });

  it('restores the outputs in the second clone: the same modules and verify reports as the first built', () => {
    for (const k of kernels) {
      const out = (ws: string) => join(ws, 'livepatches/klpd-fix/out', k);
      const kos = readdirSync(out(cloneA)).filter((f) => f.endsWith('.ko')).sort();
      expect(kos).toEqual(['klpd-fix.ko', 'klpd-fix__klpd-counter.ko', 'klpd-fix__klpd-parser.ko', 'klpd-fix__klpd-ticker.ko']);
      expect(readdirSync(out(cloneB)).filter((f) => f.endsWith('.ko')).sort()).toEqual(kos);
      for (const f of [...kos, 'klp-split.json']) expect(readFileSync(join(out(cloneB), f)).equals(readFileSync(join(out(cloneA), f))), `${k}/${f}`).toBe(true);
      expect(JSON.parse(readFileSync(join(out(cloneB), 'verify.json'), 'utf8')).ok, k).toBe(true);
      for (const m of ['klpd-counter', 'klpd-parser', 'klpd-ticker']) {
        const ko = (ws: string) => readFileSync(join(ws, 'modules', m, 'out', k, `${m}.ko`));
        expect(ko(cloneB).equals(ko(cloneA)), `${m} on ${k}`).toBe(true);
      }
    }
  });
});

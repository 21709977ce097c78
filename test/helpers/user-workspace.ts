import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { ROOT } from './env.js';
import { sharedFixture } from './fixtures.js';
import { NX_ENV } from './nx-workspace.js';

/**
 * klp-split as a user installs it: every workspace package packed with
 * `npm pack`, a fresh directory (`npm init -y`) with nx and the tarballs
 * installed and nothing else from this repository, the example's modules
 * and livepatch copied in.
 */
export const PACKAGES = ['core', 'kernel-facts', 'splitter', 'runtime-sim', 'klp-relocs', 'kbuild-gen', 'create', 'nx'];
const NX_VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> }).devDependencies.nx!;

export async function run(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}) {
  const r = await execa(cmd, args, { cwd, reject: false, env: { ...NX_ENV, ...env }, all: true });
  return { code: r.exitCode, output: String(r.all) };
}

export async function must(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}) {
  const r = await run(cmd, args, cwd, env);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}):\n${r.output}`);
  return r;
}

let npmVersion: string | undefined;

/**
 * Every package packed (`npm pack`, into <dir>/packs), and nx and the
 * tarballs installed by npm into a fresh directory (`npm init -y`, <dir>/ws):
 * a shared fixture, once per version of the tool, of nx, of npm and of
 * node. What npm resolves for nx's own dependencies is the fixture's lock
 * file.
 */
async function installedWorkspace(): Promise<string> {
  npmVersion ??= (await must('npm', ['--version'], ROOT)).output.trim();
  // The tool's key leaves src/ out; the packed nx package has its executors' and generators' schemas from there.
  const schemas = ['executors', 'generators'].flatMap((k) => readdirSync(join(ROOT, 'packages/nx/src', k)).map((n) => join(ROOT, 'packages/nx/src', k, n, 'schema.json'))).filter((f) => existsSync(f));
  return sharedFixture('user-install', { kbuild: false, files: schemas, facts: [`nx ${NX_VERSION}`, `npm ${npmVersion}`, `node ${process.version}`] }, async (d) => {
    const packs = join(d, 'packs');
    const ws = join(d, 'ws');
    mkdirSync(packs);
    mkdirSync(ws);
    await must('npm', ['pack', '--silent', '--pack-destination', packs, ...PACKAGES.flatMap((p) => ['--workspace', `packages/${p}`])], ROOT);
    const tarballs = readdirSync(packs).map((f) => join(packs, f));
    await must('npm', ['init', '-y'], ws);
    await must('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', `nx@${NX_VERSION}`, ...tarballs], ws);
  });
}

/**
 * A workspace at <ws> as a user makes it: nx and the tarballs installed (a
 * copy of the installed fixture, its tarballs in <ws>/../packs, where its lock
 * file names them) and the example copied in; no nx.json plugins yet.
 */
export async function createUserWorkspace(ws: string): Promise<void> {
  const installed = await installedWorkspace();
  // Links as npm made them (node_modules/.bin): relative, into this copy, never into the fixture.
  cpSync(join(installed, 'packs'), join(dirname(ws), 'packs'), { recursive: true });
  cpSync(join(installed, 'ws'), ws, { recursive: true, verbatimSymlinks: true });
  cpSync(join(ROOT, 'examples/modules'), join(ws, 'modules'), { recursive: true });
  cpSync(join(ROOT, 'examples/livepatches'), join(ws, 'livepatches'), { recursive: true });
  // What any Nx workspace ignores; kbuild's products are the plugin's business (its inputs leave them out).
  writeFileSync(join(ws, '.gitignore'), 'node_modules/\n.nx/\n');
  writeFileSync(join(ws, 'nx.json'), '{}\n');
}

/**
 * A git clone of such a workspace, installed as `npm ci` installs it from
 * the lock file it shares with the fixture: the fixture's node_modules.
 */
export async function cloneUserWorkspace(clone: string): Promise<void> {
  const installed = await installedWorkspace();
  const lock = (dir: string) => readFileSync(join(dir, 'package-lock.json'), 'utf8');
  if (lock(clone) !== lock(join(installed, 'ws'))) throw new Error(`${clone}: its lock file is not the installed fixture's`);
  cpSync(join(installed, 'ws/node_modules'), join(clone, 'node_modules'), { recursive: true, verbatimSymlinks: true });
}

/** Debian's 6.1 release of the kernel environment and the newest 6.12 amd64 release apt offers: discovered, never written down. */
export async function matrixKernels(ws: string): Promise<string[]> {
  const klp = join(ws, 'node_modules/.bin/klp-split');
  const env61 = (await must('bash', [join(ws, 'node_modules/@klp-split/kernel-facts/scripts/kernel-env.sh'), '--json'], ws)).output;
  const available = (await must(klp, ['kernel', 'list', '--available'], ws)).output.split('\n');
  const newest612 = available.filter((r) => /^6\.12\.\d+\+deb12-amd64$/.test(r)).at(-1);
  if (!newest612) throw new Error(`apt offers no 6.12 amd64 headers:\n${available.join('\n')}`);
  return [(JSON.parse(env61.slice(env61.indexOf('{'))) as { KLP_KERNEL_RELEASE: string }).KLP_KERNEL_RELEASE, newest612];
}

const ANSI = /\x1b\[[0-9;]*m/g;

/** Nx's task lines (`> nx run p:"t"  [remote cache]`): the task id (unquoted) and what Nx says after it. */
export function nxTaskLines(output: string): { task: string; note: string }[] {
  return [...output.replace(ANSI, '').matchAll(/^> nx run (\S+)(.*)$/gm)].map((m) => ({ task: m[1]!.replace(/"/g, ''), note: m[2]!.trim() }));
}

/** Nx's closing line: how many of how many tasks it read from the cache, or undefined when it ran every task. */
export function nxCacheHits(output: string): { hits: number; tasks: number } | undefined {
  const m = /Nx read the output from the cache instead of running the command for (\d+) out of (\d+) tasks/.exec(output.replace(ANSI, ''));
  return m ? { hits: Number(m[1]), tasks: Number(m[2]) } : undefined;
}

import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { ROOT } from './env.js';

/**
 * klp-split as a user installs it: every workspace package packed with
 * `npm pack`, a fresh directory (`npm init -y`) with nx and the tarballs
 * installed and nothing else from this repository, the example's modules
 * and livepatch copied in.
 */
export const PACKAGES = ['core', 'kernel-facts', 'splitter', 'runtime-sim', 'klp-relocs', 'kbuild-gen', 'nx'];
export const NX_ENV = { NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', CI: 'true' };
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

/** The packed tarballs in <dir> (created). */
export async function packAll(dir: string): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  await must('npm', ['pack', '--silent', '--pack-destination', dir, ...PACKAGES.flatMap((p) => ['--workspace', `packages/${p}`])], ROOT);
  return readdirSync(dir).map((f) => join(dir, f));
}

/** A fresh workspace at <ws> with nx and the tarballs installed and the example copied in; no nx.json plugins yet. */
export async function createUserWorkspace(ws: string, tarballs: string[]): Promise<void> {
  mkdirSync(ws, { recursive: true });
  await must('npm', ['init', '-y'], ws);
  await must('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', `nx@${NX_VERSION}`, ...tarballs], ws);
  cpSync(join(ROOT, 'examples/modules'), join(ws, 'modules'), { recursive: true });
  cpSync(join(ROOT, 'examples/livepatches'), join(ws, 'livepatches'), { recursive: true });
  // What any Nx workspace ignores; kbuild's products are the plugin's business (its inputs leave them out).
  writeFileSync(join(ws, '.gitignore'), 'node_modules/\n.nx/\n');
  writeFileSync(join(ws, 'nx.json'), '{}\n');
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

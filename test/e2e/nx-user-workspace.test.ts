import { cpSync, mkdirSync, readdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeDir, ROOT, tempDir } from '../helpers/env.js';

/**
 * Issue 16: klp-split as a user installs it. Every workspace package is
 * packed with `npm pack`; a fresh directory (`npm init -y`) installs nx and
 * the tarballs, nothing else from this repository, and copies the example's
 * modules and livepatch in. The plugin is registered by its package name.
 */
const PACKAGES = ['core', 'splitter', 'kbuild-gen', 'runtime-sim', 'klp-relocs', 'nx'];
const NX_ENV = { NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', CI: 'true' };
const NX_VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> }).devDependencies.nx!;

let tmp: string;
let ws: string;
/** Debian's 6.1 release of the kernel environment and the newest 6.12 amd64 release apt offers: discovered, never written down. */
let kernels: string[];

async function run(cmd: string, args: string[], cwd: string) {
  const r = await execa(cmd, args, { cwd, reject: false, env: NX_ENV, all: true });
  return { code: r.exitCode, output: String(r.all) };
}

const nx = (args: string[]) => run(join(ws, 'node_modules/.bin/nx'), args, ws);

/** Tasks Nx ran rather than replayed from its cache (Nx quotes a target name with a colon: klpd-fix:"verify:6.1.0-57-amd64"). */
const ran = (output: string): string[] =>
  [...output.replace(/\x1b\[[0-9;]*m/g, '').matchAll(/^> nx run (\S+)(.*)$/gm)].filter((m) => !m[2]!.includes('cache')).map((m) => m[1]!.replace(/"/g, '')).sort();

beforeAll(async () => {
  tmp = tempDir('user-ws');
  const packs = join(tmp, 'packs');
  mkdirSync(packs);
  const pack = await run('npm', ['pack', '--silent', '--pack-destination', packs, ...PACKAGES.flatMap((p) => ['--workspace', `packages/${p}`])], ROOT);
  if (pack.code !== 0) throw new Error(`npm pack failed:\n${pack.output}`);
  ws = join(tmp, 'ws');
  mkdirSync(ws);
  for (const [cmd, args] of [
    ['npm', ['init', '-y']],
    ['npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', `nx@${NX_VERSION}`, ...readdirSync(packs).map((f) => join(packs, f))]],
  ] as const) {
    const r = await run(cmd, [...args], ws);
    if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${r.output}`);
  }
  cpSync(join(ROOT, 'examples/modules'), join(ws, 'modules'), { recursive: true });
  cpSync(join(ROOT, 'examples/livepatches'), join(ws, 'livepatches'), { recursive: true });
  // What any Nx workspace ignores; kbuild's products are the plugin's business (its inputs leave them out).
  writeFileSync(join(ws, '.gitignore'), 'node_modules/\n.nx/\n');
  writeFileSync(join(ws, 'nx.json'), '{}\n');
  const klp = join(ws, 'node_modules/.bin/klp-split');
  const env61 = (await run('bash', [join(ws, 'node_modules/@klp-split/kbuild-gen/scripts/kernel-env.sh'), '--json'], ws)).output;
  const available = (await run(klp, ['kernel', 'list', '--available'], ws)).output.split('\n');
  const newest612 = available.filter((r) => /^6\.12\.\d+\+deb12-amd64$/.test(r)).at(-1);
  if (!newest612) throw new Error(`apt offers no 6.12 amd64 headers:\n${available.join('\n')}`);
  kernels = [(JSON.parse(env61.slice(env61.indexOf('{'))) as { KLP_KERNEL_RELEASE: string }).KLP_KERNEL_RELEASE, newest612];
  const add = await run(klp, ['kernel', 'add', ...kernels], ws);
  if (add.code !== 0) throw new Error(`klp-split kernel add failed:\n${add.output}`);
  const g = await nx(['g', '@klp-split/nx:init', ...kernels.map((k) => `--kernels=${k}`)]);
  if (g.code !== 0) throw new Error(`nx g @klp-split/nx:init failed:\n${g.output}`);
}, 1_200_000);

afterAll(() => {
  if (tmp) removeDir(tmp);
});

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
    expect(readdirSync(join(ws, 'node_modules/@klp-split/kbuild-gen/scripts'))).toContain('kernel-env.sh');
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
    const r = await nx(['show', 'project', 'klpd-fix', '--json']);
    expect(r.code, r.output).toBe(0);
    const project = JSON.parse(r.output.slice(r.output.indexOf('{')));
    for (const k of kernels) {
      expect(Object.keys(project.targets)).toEqual(expect.arrayContaining([`split:${k}`, `build:${k}`, `verify:${k}`]));
      expect(project.targets[`verify:${k}`].dependsOn).toContainEqual({ projects: ['klpd-counter', 'klpd-parser', 'klpd-ticker'], target: `build:${k}` });
    }
    expect(project.targets.verify.dependsOn).toEqual(kernels.map((k) => `verify:${k}`));
    const projects = await nx(['show', 'projects', '--json']);
    expect(JSON.parse(projects.output.slice(projects.output.indexOf('[')))).toEqual(expect.arrayContaining(['klpd-fix', 'klpd-counter', 'klpd-parser', 'klpd-ticker']));
  });

  /** Per-kernel tasks Nx ran (the aggregate verify/build targets run nothing). */
  const kernelTasks = (output: string): string[] => ran(output).filter((t) => kernels.some((k) => t.endsWith(`:${k}`)));

  it('verifies on every kernel as separate tasks, then a second run is entirely from the cache', async () => {
    const first = await nx(['run-many', '-t', 'verify', '--output-style=static']);
    expect(first.code, first.output).toBe(0);
    const want = kernels.flatMap((k) => ['klpd-counter', 'klpd-parser', 'klpd-ticker'].map((m) => `${m}:build:${k}`).concat([`klpd-fix:split:${k}`, `klpd-fix:build:${k}`, `klpd-fix:verify:${k}`]));
    expect(kernelTasks(first.output)).toEqual(want.sort());
    for (const k of kernels) {
      const report = JSON.parse(readFileSync(join(ws, 'livepatches/klpd-fix/out', k, 'verify.json'), 'utf8'));
      expect(report.ok, k).toBe(true);
      expect(readdirSync(join(ws, 'modules/klpd-counter/out', k))).toContain('klpd-counter.ko');
    }
    const second = await nx(['run-many', '-t', 'verify', '--output-style=static']);
    expect(second.code, second.output).toBe(0);
    expect(kernelTasks(second.output)).toEqual([]);
    // Every task from the cache; the one more task Nx counts is klpd-fix:verify, the nx:noop that runs the kernels' verifies.
    const hits = /Nx read the output from the cache instead of running the command for (\d+) out of (\d+) tasks/.exec(second.output.replace(/\x1b\[[0-9;]*m/g, ''));
    expect(hits, second.output).not.toBeNull();
    expect(Number(hits![1])).toBe(want.length);
    expect(Number(hits![2])).toBe(want.length + 1);
  });

  it('re-runs only the touched module\'s chain, on both kernels', async () => {
    const file = join(ws, 'modules/klpd-counter/klpd-counter.c');
    writeFileSync(file, `${readFileSync(file, 'utf8')}/* touched by the test suite */\n`);
    const touched = await nx(['run-many', '-t', 'verify', '--output-style=static']);
    expect(touched.code, touched.output).toBe(0);
    expect(kernelTasks(touched.output)).toEqual(kernels.flatMap((k) => [`klpd-counter:build:${k}`, `klpd-fix:verify:${k}`]).sort());
  });
});

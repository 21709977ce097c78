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
const PACKAGES = ['core', 'splitter', 'kbuild-gen', 'runtime-sim', 'nx'];
const NX_ENV = { NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', CI: 'true' };
const NX_VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> }).devDependencies.nx!;

let tmp: string;
let ws: string;

async function run(cmd: string, args: string[], cwd: string) {
  const r = await execa(cmd, args, { cwd, reject: false, env: NX_ENV, all: true });
  return { code: r.exitCode, output: String(r.all) };
}

const nx = (args: string[]) => run(join(ws, 'node_modules/.bin/nx'), args, ws);

/** Tasks Nx ran rather than replayed from its cache. */
const ran = (output: string): string[] =>
  [...output.replace(/\x1b\[[0-9;]*m/g, '').matchAll(/^> nx run (\S+)(.*)$/gm)].filter((m) => !m[2]!.includes('cache')).map((m) => m[1]!).sort();

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
  writeFileSync(join(ws, 'nx.json'), `${JSON.stringify({ plugins: ['@klp-split/nx'] }, null, 2)}\n`);
}, 1_200_000);

afterAll(() => {
  if (tmp) removeDir(tmp);
});

describe('klp-split installed from its packed tarballs into a fresh workspace', () => {
  it('installs every package as a real copy (no link back into this repository), with the kernel environment script inside kbuild-gen', () => {
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
  });

  it('runs the klp-split bin', async () => {
    const r = await run(join(ws, 'node_modules/.bin/klp-split'), ['--help'], ws);
    expect(r.code, r.output).toBe(0);
    expect(r.output).toContain('Usage: klp-split <command>');
    const id = await run(join(ws, 'node_modules/.bin/klp-split'), ['kernel-id'], ws);
    expect(id.code, id.output).toBe(0);
    expect(id.output).toMatch(/^\d+\.\d+\.\d+-\S+ [0-9a-f]{16} \//m);
  });

  it('registers the plugin by its package name: the livepatch and module projects are inferred', async () => {
    const r = await nx(['show', 'project', 'klpd-fix', '--json']);
    expect(r.code, r.output).toBe(0);
    const project = JSON.parse(r.output.slice(r.output.indexOf('{')));
    expect(Object.keys(project.targets)).toEqual(expect.arrayContaining(['split', 'build', 'verify']));
    expect(project.targets.verify.dependsOn).toContainEqual({ projects: ['klpd-counter', 'klpd-parser', 'klpd-ticker'], target: 'build' });
    const projects = await nx(['show', 'projects', '--json']);
    expect(JSON.parse(projects.output.slice(projects.output.indexOf('[')))).toEqual(expect.arrayContaining(['klpd-fix', 'klpd-counter', 'klpd-parser', 'klpd-ticker']));
  });

  it('verifies the workspace, then a second run is entirely from the cache', async () => {
    const first = await nx(['run-many', '-t', 'verify', '--output-style=static']);
    expect(first.code, first.output).toBe(0);
    expect(first.output).toContain('verify: klpd_fix: OK');
    const second = await nx(['run-many', '-t', 'verify', '--output-style=static']);
    expect(second.code, second.output).toBe(0);
    expect(ran(second.output)).toEqual([]);
    expect(second.output).toMatch(/Nx read the output from the cache instead of running the command for (\d+) out of \1 tasks/);
  });
});

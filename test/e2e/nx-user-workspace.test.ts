import { readdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeDir, tempDir } from '../helpers/env.js';
import { createUserWorkspace, matrixKernels, must, nxCacheHits, nxTaskLines, PACKAGES, packAll, run } from '../helpers/user-workspace.js';

/**
 * Issue 16: klp-split as a user installs it. Every workspace package is
 * packed with `npm pack`; a fresh directory (`npm init -y`) installs nx and
 * the tarballs, nothing else from this repository, and copies the example's
 * modules and livepatch in. The plugin is registered by its package name.
 */
let tmp: string;
let ws: string;
/** Debian's 6.1 release of the kernel environment and the newest 6.12 amd64 release apt offers: discovered, never written down. */
let kernels: string[];

const nx = (args: string[]) => run(join(ws, 'node_modules/.bin/nx'), args, ws);

/** Tasks Nx ran rather than replayed from its cache (Nx quotes a target name with a colon: klpd-fix:"verify:6.1.0-57-amd64"). */
const ran = (output: string): string[] =>
  nxTaskLines(output)
    .filter((t) => !t.note.includes('cache'))
    .map((t) => t.task)
    .sort();

beforeAll(async () => {
  tmp = tempDir('user-ws');
  ws = join(tmp, 'ws');
  await createUserWorkspace(ws, await packAll(join(tmp, 'packs')));
  kernels = await matrixKernels(ws);
  await must(join(ws, 'node_modules/.bin/klp-split'), ['kernel', 'add', ...kernels], ws);
  await must(join(ws, 'node_modules/.bin/nx'), ['g', '@klp-split/nx:init', ...kernels.map((k) => `--kernels=${k}`)], ws);
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
    expect(nxCacheHits(second.output), second.output).toEqual({ hits: want.length, tasks: want.length + 1 });
  });

  it('re-runs only the touched module\'s chain, on both kernels', async () => {
    const file = join(ws, 'modules/klpd-counter/klpd-counter.c');
    writeFileSync(file, `${readFileSync(file, 'utf8')}/* touched by the test suite */\n`);
    const touched = await nx(['run-many', '-t', 'verify', '--output-style=static']);
    expect(touched.code, touched.output).toBe(0);
    expect(kernelTasks(touched.output)).toEqual(kernels.flatMap((k) => [`klpd-counter:build:${k}`, `klpd-fix:verify:${k}`]).sort());
  });
});

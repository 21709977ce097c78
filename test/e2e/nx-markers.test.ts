import { cpSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discoverKernelTree } from '@klp-split/kernel-facts';
import { klpSplit, removeDir, ROOT, samples, tempDir } from '../helpers/env.js';
import { linkedWorkspace, nx as nxIn } from '../helpers/nx-workspace.js';


/**
 * Issue 11: a marker is data, not configuration we trust. A throwaway Nx
 * workspace (this repository's packages and node_modules linked in, the
 * plugin loaded as nx.json loads it here) holds hostile markers; Nx itself
 * computes the targets' inputs, which runs the kernel-id runtime input in a
 * shell.
 */
let ws: string;

const nx = (args: string[]) => nxIn(args, ws);

function marker(dir: string, json: unknown): void {
  mkdirSync(join(ws, dir), { recursive: true });
  writeFileSync(join(ws, dir, 'klp-livepatch.json'), typeof json === 'string' ? json : JSON.stringify(json));
  cpSync(samples('livepatch-sample.c'), join(ws, dir, 'fix.c'));
}

/** Every file named PWNED under the workspace (links to the repository not followed). */
function pwned(): string[] {
  const found: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isSymbolicLink()) continue;
      if (e.name.startsWith('PWNED')) found.push(join(d, e.name));
      if (e.isDirectory()) walk(join(d, e.name));
    }
  };
  walk(ws);
  return found;
}

beforeAll(() => {
  ws = linkedWorkspace('markers-ws');
  // As an Nx TypeScript workspace has it: Nx then starts plugin workers with `--conditions @markers-ws/source`.
  writeFileSync(join(ws, 'tsconfig.base.json'), JSON.stringify({ compilerOptions: { customConditions: ['@markers-ws/source'] } }));
});

afterAll(() => removeDir(ws));

describe('markers under a real Nx run', () => {
  it('never runs a kdir as a shell command when Nx hashes the kernel-id input', async () => {
    marker('evil', { source: 'fix.c', kdir: '/nonexistent; touch PWNED #' });
    // A project directory whose name is shell syntax: the marker path Nx lists is quoted, never interpreted.
    marker(`q'\`touch PWNED2\`'`, { name: 'quoted', source: 'fix.c', kdir: '/nonexistent2`touch PWNED3`' });
    const r = await nx(['run-many', '-t', 'split', '--output-style=static']);
    expect(pwned(), r.output).toEqual([]);
    expect(existsSync(join(ROOT, 'PWNED'))).toBe(false);
    // The kdir reached the split as an argument, and the run failed on it as a path that does not exist.
    expect(r.code).not.toBe(0);
    expect(r.output).toContain('/nonexistent; touch PWNED #');
    const shown = await nx(['show', 'project', 'evil', '--json']);
    const project = JSON.parse(shown.output.slice(shown.output.indexOf('{')));
    const runtime = project.targets.split.inputs.find((i: { runtime?: string }) => i.runtime?.includes('kernel-id')).runtime as string;
    // The package's bin as the workspace reaches it (its node_modules), never a string from the marker.
    expect(runtime).toBe("node node_modules/@klp-split/nx/bin/klp-split.js kernel-id --marker 'evil/klp-livepatch.json'");
    removeDir(join(ws, 'evil'));
    removeDir(join(ws, `q'\`touch PWNED2\`'`));
  });

  // The rest of the schema is covered by packages/nx/src/plugin/markers.test.ts; here, that Nx shows the file.
  // Each in a project of its own, all in one Nx run: Nx reports every marker its plugin refused.
  describe('bad markers', () => {
    const BAD: [what: string, json: unknown, message: RegExp][] = [
      ['a kdir with a newline', { source: 'fix.c', kdir: '/usr/src\ntouch PWNED' }, /"kdir" must be the path of a kernel tree/],
      ['a source outside the project', { source: '../outside/fix.c' }, /leaves .*\[path-escape\]/],
      ['JSON that does not parse', '{"source": "fix.c",', /not valid JSON/],
    ];
    let shown: { code: number | undefined; output: string };
    beforeAll(async () => {
      BAD.forEach(([, json], i) => marker(`bad-${i}`, json));
      shown = await nx(['show', 'projects']);
    });
    afterAll(() => BAD.forEach((_, i) => removeDir(join(ws, `bad-${i}`))));

    it.each(BAD.map(([what, , message], i) => [what, i, message] as const))('reports %s with the marker file named', (_what, i, message) => {
      expect(shown.code, shown.output).not.toBe(0);
      const line = shown.output.split('\n').find((l) => l.includes(`bad-${i}/klp-livepatch.json: error:`));
      expect(line, shown.output).toMatch(message);
      expect(pwned()).toEqual([]);
    });
  });
});

describe('kernel-id --marker', () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir('kernel-id');
  });
  afterAll(() => removeDir(dir));

  it("reads the kernel tree from a valid marker's kdir", async () => {
    const tree = discoverKernelTree({ install: false });
    mkdirSync(join(dir, 'ok'));
    writeFileSync(join(dir, 'ok/klp-module.json'), JSON.stringify({ sources: ['m.c'], kdir: tree.dir }));
    const r = await klpSplit(['kernel-id', '--marker', 'ok/klp-module.json'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^${tree.release.replace(/\./g, '\\.')} [0-9a-f]{16} ${tree.dir}$`));
  });

  it('names the marker when its kdir is not a kernel tree, exit 2', async () => {
    mkdirSync(join(dir, 'nokdir'));
    writeFileSync(join(dir, 'nokdir/klp-livepatch.json'), JSON.stringify({ source: 'fix.c', kdir: '/nonexistent; touch PWNED #' }));
    const r = await klpSplit(['kernel-id', '--marker', 'nokdir/klp-livepatch.json'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('nokdir/klp-livepatch.json');
    expect(existsSync(join(dir, 'PWNED'))).toBe(false);
  });

  it('refuses a file that is not a marker', async () => {
    writeFileSync(join(dir, 'other.json'), '{}');
    const r = await klpSplit(['kernel-id', '--marker', 'other.json'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('other.json');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

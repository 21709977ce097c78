import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discoverKernelTree, kernelEnv } from '@klp-split/kernel-facts';
import { removeDir, ROOT, tempDir } from '../helpers/env.js';
import { shellWords } from '../helpers/shell-words.js';
import { nxTaskLines } from '../helpers/user-workspace.js';

/**
 * Issue 20: a project directory is data. One Nx workspace (this
 * repository's packages linked in) holds livepatch and module projects in
 * directories named like shell syntax, under the plugin without the option
 * `kernels` (plain/, markers with a kdir: the `kernel-id --marker` runtime
 * input) and with it (matrix/: the per-kernel tasks and the report target).
 * Real Nx infers and runs every target of every kind; no command any of
 * them contains runs, every target succeeds or fails with a one-line
 * reason. A chain in directories named like options (`-n`, `--version`)
 * is built, verified and reported for real.
 */
const NX_ENV = { NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', CI: 'true' };

/** Every one tries to create a file named PWNED when a shell reads it. */
const HOSTILE = ['lp;touch PWNED;x', 'b`touch PWNED`q', `q'touch PWNED'"x`, 'sp ace&&touch PWNED', 'nl\ntouch PWNED', '>PWNED', 'd$HOME|touch PWNED'];
const HOSTILE_MODULE = 'm;touch PWNED;x';
/** Shell syntax Nx itself would read as glob or token syntax: refused at the marker. */
const REFUSED = ['$(touch PWNED)', 'g[1]', 'b{r,x}', 'st*r', '{projectRoot}'];

let ws: string;
let kernel: string;
let kdir: string;
let graph: Record<string, { data: { root: string; targets: Record<string, Target> } }>;
let verifyRun: { code: number | undefined; output: string };
let reportRun: { code: number | undefined; output: string };

interface Target {
  executor?: string;
  command?: string;
  options?: Record<string, unknown>;
  inputs?: (string | { runtime?: string })[];
}

async function nx(args: string[]) {
  const r = await execa(join(ROOT, 'node_modules/.bin/nx'), args, { cwd: ws, reject: false, env: NX_ENV, all: true });
  return { code: r.exitCode, output: String(r.all) };
}

function livepatch(dir: string, target: string, withKdir: boolean): void {
  mkdirSync(join(ws, dir), { recursive: true });
  cpSync(join(ROOT, 'test/fixtures/nx-hostile/counter-fix.c'), join(ws, dir, 'fix.c'));
  writeFileSync(join(ws, dir, 'klp-livepatch.json'), JSON.stringify({ source: 'fix.c', targets: [target], ...(withKdir ? { kdir } : {}) }));
}

function module(dir: string, withKdir: boolean): void {
  mkdirSync(join(ws, dir), { recursive: true });
  cpSync(join(ROOT, 'examples/modules/klpd-counter'), join(ws, dir), { recursive: true });
  writeFileSync(join(ws, dir, 'klp-module.json'), JSON.stringify({ sources: ['klpd-counter.c'], ...(withKdir ? { kdir } : {}) }));
}

/** Every file named PWNED* under the workspace and the repository (links not followed). */
function pwned(): string[] {
  const found: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isSymbolicLink() || e.name === 'node_modules' || e.name === '.git') continue;
      if (e.name.startsWith('PWNED')) found.push(join(d, e.name));
      if (e.isDirectory()) walk(join(d, e.name));
    }
  };
  walk(ws);
  for (const d of [ROOT, process.cwd(), join(ROOT, 'packages/nx')]) if (existsSync(join(d, 'PWNED'))) found.push(join(d, 'PWNED'));
  return found;
}

const projectsIn = (mode: 'plain' | 'matrix') => Object.values(graph).filter((p) => p.data.root.startsWith(`${mode}/`));

beforeAll(async () => {
  ws = tempDir('nx-hostile');
  kernel = kernelEnv().KLP_KERNEL_RELEASE;
  kdir = discoverKernelTree({ install: false }).dir;
  symlinkSync(join(ROOT, 'packages'), join(ws, 'packages'));
  symlinkSync(join(ROOT, 'node_modules'), join(ws, 'node_modules'));
  writeFileSync(join(ws, '.nxignore'), 'packages\n');
  writeFileSync(join(ws, 'package.json'), JSON.stringify({ name: 'hostile-ws', private: true }));
  const plugin = './packages/nx/dist/plugin/index.js';
  writeFileSync(join(ws, 'nx.json'), JSON.stringify({ plugins: [{ plugin, include: ['plain/**/*'] }, { plugin, options: { kernels: [kernel] }, include: ['matrix/**/*'] }], useDaemonProcess: false }));
  module(`plain/modules/${HOSTILE_MODULE}`, true);
  module(`matrix/modules/k${HOSTILE_MODULE}`, false);
  for (const h of HOSTILE) {
    livepatch(`plain/${h}`, HOSTILE_MODULE, true);
    livepatch(`matrix/k${h}`, `k${HOSTILE_MODULE}`, false);
  }
  // Named like options: a chain kbuild can build, split to report.
  module('matrix/modules/--version', false);
  livepatch('matrix/-n', '--version', false);

  const g = await nx(['graph', `--file=${join(ws, 'graph.json')}`]);
  if (g.code !== 0) throw new Error(`nx graph failed:\n${g.output}`);
  graph = JSON.parse(readFileSync(join(ws, 'graph.json'), 'utf8')).graph.nodes;
  verifyRun = await nx(['run-many', '-t', 'verify', '--output-style=static', '--parallel=2']);
  reportRun = await nx(['run-many', '-t', 'report', '--output-style=static']);
}, 900_000);

afterAll(() => removeDir(ws));

describe('project directories named like shell syntax, under real Nx', () => {
  it('infers every project, in the directory as it is named', () => {
    const roots = Object.values(graph).map((p) => p.data.root).sort();
    const expected = [
      ...HOSTILE.flatMap((h) => [`plain/${h}`, `matrix/k${h}`]),
      `plain/modules/${HOSTILE_MODULE}`,
      `matrix/modules/k${HOSTILE_MODULE}`,
      'matrix/-n',
      'matrix/modules/--version',
    ].sort();
    expect(roots).toEqual(expected);
  });

  it('gives no target a command line: every target runs an executor, with the directory as an option', () => {
    for (const p of Object.values(graph)) {
      for (const [name, t] of Object.entries(p.data.targets)) {
        expect(t.executor, `${p.data.root} ${name}`).toMatch(/^(@klp-split\/nx:(split|build|verify|report)|nx:noop)$/);
        expect(t.command, `${p.data.root} ${name}`).toBeUndefined();
        expect(t.options?.command, `${p.data.root} ${name}`).toBeUndefined();
        // Nx replaced no {token} inside a path: every path option is the project's directory as written.
        for (const key of ['source', 'path', 'outputPath', 'report', 'markdown', 'sarif']) {
          const v = t.options?.[key];
          if (typeof v === 'string') expect(v.startsWith(`${p.data.root}/`) || v === p.data.root, `${p.data.root} ${name} ${key}: ${v}`).toBe(true);
        }
      }
    }
  });

  it('quotes the marker path in the one shell command Nx runs (the kernel-id runtime input): one word, exactly the path', () => {
    let seen = 0;
    for (const p of Object.values(graph)) {
      for (const [name, t] of Object.entries(p.data.targets)) {
        for (const i of t.inputs ?? []) {
          if (typeof i !== 'object' || !i.runtime) continue;
          const lexed = shellWords(i.runtime);
          expect(lexed, `${p.data.root} ${name}: ${i.runtime}`).toHaveProperty('words');
          const words = (lexed as { words: string[] }).words;
          expect(words.slice(0, 2)).toEqual(['node', 'node_modules/@klp-split/nx/bin/klp-split.js']);
          if (words[2] === '--version') continue;
          const marker = p.data.root.startsWith('plain/') ? ['--marker', `${p.data.root}/${p.data.root.includes('/modules/') ? 'klp-module.json' : 'klp-livepatch.json'}`] : ['--kernel', kernel];
          expect(words.slice(2), `${p.data.root} ${name}`).toEqual(['kernel-id', ...marker]);
          seen++;
        }
      }
    }
    // split, build, verify per livepatch and build per module, in both modes.
    expect(seen).toBe((HOSTILE.length * 3 + 1) * 2 + 3 + 1);
  });

  it('runs every target with no command of a directory name run: nothing named PWNED anywhere', () => {
    expect(pwned(), `${verifyRun.output}\n${reportRun.output}`).toEqual([]);
  });

  it('splits every livepatch, and refuses to build in a directory kbuild would give to a shell, with one line saying why', () => {
    const tasks = nxTaskLines(verifyRun.output).map((t) => t.task);
    for (const p of [...projectsIn('plain'), ...projectsIn('matrix')]) {
      const root = p.data.root;
      const lp = !root.includes('/modules/');
      const hostile = !['matrix/-n', 'matrix/modules/--version'].includes(root);
      const out = root.startsWith('matrix/') ? `${root}/out/${kernel}` : `${root}/out`;
      if (lp) expect(existsSync(join(ws, out, 'klp-split.json')), `${root} split`).toBe(true);
      if (hostile) {
        const dir = lp ? out : root.startsWith('matrix/') ? out : root;
        expect(verifyRun.output, root).toContain(`the build directory ${JSON.stringify(join(ws, dir))} has`);
        expect(existsSync(join(ws, out, 'verify.json')), `${root} verify`).toBe(false);
      }
    }
    expect(tasks.length).toBeGreaterThan(0);
    expect(verifyRun.code).not.toBe(0);
    expect(verifyRun.output).not.toMatch(/\n\s+at .+:\d+:\d+\)?\n/);
  });

  it('builds and verifies the chain in directories named like options, and the report target tables it', () => {
    expect(JSON.parse(readFileSync(join(ws, 'matrix/-n/out', kernel, 'verify.json'), 'utf8')).ok).toBe(true);
    expect(readFileSync(join(ws, 'matrix/-n/out/report.md'), 'utf8')).toMatch(new RegExp(`${kernel.replace(/[.+]/g, '\\$&')}[\\s\\S]*OK`));
    expect(JSON.parse(readFileSync(join(ws, 'matrix/-n/out/report.sarif'), 'utf8')).runs).toHaveLength(1);
    // The hostile livepatches have no verify results: their report says so, in one line, and nothing ran.
    for (const h of HOSTILE) expect(reportRun.output).toContain(`report: no out/<release>/verify.json under matrix/k${h}`);
    expect(reportRun.output).not.toMatch(/\n\s+at .+:\d+:\d+\)?\n/);
    expect(pwned()).toEqual([]);
  });

  it('refuses a directory Nx would read as glob or token syntax, naming its marker', async () => {
    for (const r of REFUSED) livepatch(`plain/${r}`, HOSTILE_MODULE, true);
    try {
      const shown = await nx(['show', 'projects']);
      expect(shown.code).not.toBe(0);
      for (const r of REFUSED) expect(shown.output).toContain(`plain/${r}/klp-livepatch.json: error: the project directory ${JSON.stringify(`plain/${r}`)} has`);
      expect(shown.output).not.toMatch(/\n\s+at .+:\d+:\d+\)?\n/);
      expect(pwned()).toEqual([]);
    } finally {
      for (const r of REFUSED) rmSync(join(ws, 'plain', r), { recursive: true, force: true });
    }
  });
});

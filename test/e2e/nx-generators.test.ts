import { cpSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { klpSplit, removeDir, ROOT, samples, snapshot } from '../helpers/env.js';
import { linkedWorkspace, nx as nxIn } from '../helpers/nx-workspace.js';

/** The throwaway main workspace (outside the checkout); `nx` runs there unless told otherwise. */
let MAIN: string;
const nx = (args: string[], cwd = MAIN) => nxIn(args, cwd);


/**
 * Nx generators only work on directories inside the workspace, so the
 * scratch directory is in a throwaway workspace (test/helpers/nx-workspace.ts);
 * its scratch/ is git-ignored, which keeps it out of that workspace's project graph.
 */
let SCRATCH: string;

beforeAll(() => {
  MAIN = linkedWorkspace('nx-generators');
  SCRATCH = join(MAIN, 'scratch');
  mkdirSync(SCRATCH, { recursive: true });
});
afterAll(() => {
  if (MAIN) removeDir(MAIN);
});

describe('nx g @klp-split/nx:convert', () => {
  it('writes byte for byte what klp-split convert writes', async () => {
    const viaNx = join(SCRATCH, 'samples');
    const viaCli = join(SCRATCH, 'cli');
    cpSync(samples(), viaNx, { recursive: true });
    cpSync(samples(), viaCli, { recursive: true });
    const before = snapshot(viaNx);

    const g = await nx(['g', '@klp-split/nx:convert', `--directory=${relative(MAIN, viaNx)}`]);
    expect(g.code, g.output).toBe(0);
    const cli = await klpSplit(['convert', viaCli]);
    expect(cli.code, cli.stderr).toBe(0);

    const got = snapshot(viaNx);
    const want = snapshot(viaCli);
    expect([...got.keys()]).toEqual([...want.keys()]);
    for (const [name, bytes] of want) expect(got.get(name)!.equals(bytes), name).toBe(true);
    // The conversion did something: new per-object modules and a changed Makefile.
    expect(got.size).toBeGreaterThan(before.size);
    expect(got.get('Makefile')!.equals(before.get('Makefile')!)).toBe(false);
  });

  it('with --dry-run prints a unified diff and changes nothing', async () => {
    const dir = join(SCRATCH, 'dry');
    cpSync(samples(), dir, { recursive: true });
    const before = snapshot(dir);
    const rel = relative(MAIN, dir);

    const g = await nx(['g', '@klp-split/nx:convert', `--directory=${rel}`, '--dry-run']);
    expect(g.code, g.output).toBe(0);
    expect(g.output).toContain(`--- a/${rel}/livepatch-sample.c\n+++ b/${rel}/livepatch-sample.c\n@@ `);
    expect(g.output).toContain(`--- a/${rel}/Makefile\n+++ b/${rel}/Makefile\n`);
    expect(g.output).toContain(`--- /dev/null\n+++ b/${rel}/livepatch-sample.klp-split.json\n`);
    expect(snapshot(dir)).toEqual(before);
  });

  it('converts the livepatches it can, reports the others with their diagnostics, prints what the command prints, and fails', async () => {
    const setUp = (dir: string): string => {
      mkdirSync(dir, { recursive: true });
      cpSync(samples('livepatch-sample.c'), join(dir, 'livepatch-sample.c'));
      const broken = readFileSync(samples('livepatch-sample.c'), 'latin1').replace('.new_func = livepatch_cmdline_proc_show,', '.new_func = livepatch_missing,');
      writeFileSync(join(dir, 'livepatch-broken.c'), broken, 'latin1');
      writeFileSync(join(dir, 'Makefile'), 'obj-m += livepatch-sample.o livepatch-broken.o\n');
      return broken;
    };
    const viaNx = join(SCRATCH, 'partial');
    const viaCli = join(SCRATCH, 'partial-cli');
    const broken = setUp(viaNx);
    setUp(viaCli);
    const rel = relative(MAIN, viaNx);

    const before = snapshot(viaNx);
    const dry = await nx(['g', '@klp-split/nx:convert', `--directory=${rel}`, '--dry-run']);
    expect(dry.code).not.toBe(0);
    expect(dry.output).toContain('not converted (errors above): livepatch-broken.c');
    expect(snapshot(viaNx)).toEqual(before);

    const g = await nx(['g', '@klp-split/nx:convert', `--directory=${rel}`]);
    g.output = g.output.replace(/\x1b\[[0-9;]*m/g, '');
    expect(g.code, g.output).not.toBe(0);
    expect(g.output).toContain(`${rel}/livepatch-broken.c:40:2: error: klp_func 'cmdline_proc_show': new_func 'livepatch_missing' is not defined in this file [new-func-undefined]`);
    expect(g.output).toMatch(new RegExp(`convert ${rel}: 1 livepatch split, \\d+ files? written\n  livepatch-sample.c: livepatch_sample\nnot converted \\(errors above\\): livepatch-broken.c`));
    // Nx's error line is the generator's diagnostic, without a stack trace to offer.
    expect(g.output).toContain(`error: convert ${rel}: some livepatches were not converted (errors above) [convert-findings]`);
    expect(g.output).not.toContain('--verbose');
    expect(g.output).not.toContain('nothing written');
    // The one it could split is written, exactly as the CLI writes it; the other is left as it was.
    expect(readFileSync(join(viaNx, 'livepatch-sample.c'), 'latin1')).toContain('klp_enable_patch');
    expect(readFileSync(join(viaNx, 'livepatch-broken.c'), 'latin1')).toBe(broken);
    const cli = await klpSplit(['convert', viaCli]);
    expect(cli.code).toBe(1);
    expect(snapshot(viaNx)).toEqual(snapshot(viaCli));
    expect(snapshot(viaNx).has('livepatch-sample.klp-split.json')).toBe(true);
    expect(snapshot(viaNx).has('livepatch-broken.klp-split.json')).toBe(false);
  });
});

/**
 * A workspace of its own for the marker generators: the main workspace
 * ignores scratch/ (so it cannot infer an init-ed marker there). Node still
 * resolves nx and @klp-split/nx from the node_modules linked into the main
 * workspace above it.
 */
describe('a nested Nx workspace using the plugin', () => {
  let ws: string;

  beforeAll(() => {
    ws = join(SCRATCH, 'ws');
    mkdirSync(ws, { recursive: true });
    writeFileSync(join(ws, 'nx.json'), JSON.stringify({ plugins: ['@klp-split/nx/plugin'], useDaemonProcess: false }));
    writeFileSync(join(ws, 'package.json'), JSON.stringify({ name: 'klp-split-nx-test', private: true }));
    // The targets' kernel-id cache input runs packages/nx/bin/klp-split.js from the workspace root.
    symlinkSync(join(ROOT, 'packages'), join(ws, 'packages'));
    const sources = (dir: string) => readdirSync(join(ROOT, dir)).filter((f) => /\.c$|^Kbuild$|^klp-(livepatch|module)\.json$/.test(f));
    for (const dir of ['examples/livepatches/klpd-fix', 'examples/modules/klpd-counter', 'examples/modules/klpd-parser', 'examples/modules/klpd-ticker']) {
      mkdirSync(join(ws, dir), { recursive: true });
      for (const f of sources(dir)) cpSync(join(ROOT, dir, f), join(ws, dir, f));
    }
  });

  it('nx g @klp-split/nx:livepatch writes a marker that Nx infers with split, build and verify', async () => {
    const g = await nx(['g', '@klp-split/nx:livepatch', '--directory=livepatches/new-fix', '--source=new-fix.c', '--targets=klpd-counter'], ws);
    expect(g.code, g.output).toBe(0);
    expect(JSON.parse(readFileSync(join(ws, 'livepatches/new-fix/klp-livepatch.json'), 'utf8'))).toEqual({ name: 'new-fix', source: 'new-fix.c', targets: ['klpd-counter'] });
    expect(readdirSync(join(ws, 'livepatches/new-fix'))).toEqual(['klp-livepatch.json']);

    const r = await nx(['show', 'project', 'new-fix', '--json'], ws);
    expect(r.code, r.output).toBe(0);
    const project = JSON.parse(r.output.slice(r.output.indexOf('{')));
    expect(Object.keys(project.targets)).toEqual(expect.arrayContaining(['split', 'build', 'verify']));
    expect(project.targets.split).toMatchObject({ executor: '@klp-split/nx:split', options: { sources: ['livepatches/new-fix/new-fix.c'] } });
    expect(project.targets.verify.dependsOn).toEqual(['build', { projects: ['klpd-counter'], target: 'build' }]);
  });

  it('nx g @klp-split/nx:livepatch refuses a target that is no module project', async () => {
    const g = await nx(['g', '@klp-split/nx:livepatch', '--directory=livepatches/bad-fix', '--source=bad-fix.c', '--targets=no-such-module'], ws);
    expect(g.code).not.toBe(0);
    expect(g.output).toContain("target 'no-such-module' is not a module project");
  });

  it('nx g @klp-split/nx:module writes a module marker for the directory\'s sources, which a livepatch can then target', async () => {
    mkdirSync(join(ws, 'modules/new-mod'), { recursive: true });
    writeFileSync(join(ws, 'modules/new-mod/new_mod.c'), readFileSync(join(ROOT, 'examples/modules/klpd-counter/klpd-counter.c')));
    const g = await nx(['g', '@klp-split/nx:module', '--directory=modules/new-mod'], ws);
    expect(g.code, g.output).toBe(0);
    expect(JSON.parse(readFileSync(join(ws, 'modules/new-mod/klp-module.json'), 'utf8'))).toEqual({ name: 'new-mod', sources: ['new_mod.c'] });
    const r = await nx(['show', 'project', 'new-mod', '--json'], ws);
    expect(r.code, r.output).toBe(0);
    expect(JSON.parse(r.output.slice(r.output.indexOf('{'))).targets.build).toMatchObject({ executor: '@klp-split/nx:build', options: { path: 'modules/new-mod' } });
    const lp = await nx(['g', '@klp-split/nx:livepatch', '--directory=livepatches/mod-fix', '--source=mod-fix.c', '--targets=new-mod'], ws);
    expect(lp.code, lp.output).toBe(0);
    const again = await nx(['g', '@klp-split/nx:module', '--directory=modules/empty'], ws);
    expect(again.code).not.toBe(0);
    expect(again.output).toContain('has no .c file');
  });

  it('nx g @klp-split/nx:init registers the plugin in nx.json once, and sets its kernels', async () => {
    const other = join(SCRATCH, 'ws-init');
    mkdirSync(other, { recursive: true });
    writeFileSync(join(other, 'nx.json'), JSON.stringify({ plugins: [] }));
    writeFileSync(join(other, 'package.json'), JSON.stringify({ name: 'klp-split-nx-init-test', private: true }));
    const g = await nx(['g', '@klp-split/nx:init'], other);
    expect(g.code, g.output).toBe(0);
    expect(JSON.parse(readFileSync(join(other, 'nx.json'), 'utf8')).plugins).toEqual(['@klp-split/nx']);
    const k = await nx(['g', '@klp-split/nx:init', '--kernels=6.1.0-57-amd64', '--kernels=6.12.113+deb12-amd64'], other);
    expect(k.code, k.output).toBe(0);
    expect(JSON.parse(readFileSync(join(other, 'nx.json'), 'utf8')).plugins).toEqual([{ plugin: '@klp-split/nx', options: { kernels: ['6.1.0-57-amd64', '6.12.113+deb12-amd64'] } }]);
  });
});

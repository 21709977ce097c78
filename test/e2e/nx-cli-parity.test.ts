import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { klpSplit, removeDir, ROOT, snapshot } from '../helpers/env.js';
import { copyFixture } from '../helpers/fixtures.js';
import { linkedNxWorkspace } from '../helpers/linked-workspace.js';
import { klprModBuilt, livepatchTargets } from '../helpers/livepatch-targets.js';

/**
 * Issue 22: the command line and the Nx executors are one code path. In one
 * Nx workspace, each fixture is split, built and verified twice into the
 * same directory: with `klp-split` from the workspace root, then with
 * `nx run` of targets whose options say the same; the files (split sources,
 * manifest, Kbuild, .ko, build record, verify report) are byte for byte the
 * same and Nx's task output holds exactly what the command printed. The
 * fixtures are the three the executors used to get wrong: a livepatch module
 * of two files (the Makefile's klpr-multi-y), klp_object entries under
 * #ifdef (kbuild's preprocessor decides), and livepatch relocations against
 * a target module (build --target).
 */
const LIVEPATCHES = join(ROOT, 'test/fixtures/livepatches');
const KLPR_TARGETS = ['klpr_target', 'klpr_alpha', 'klpr_beta', 'klpr_gamma', 'klpr_delta', 'klpr_eps'];
const targetKo = (t: string): string => `targets/${t}.ko`;

interface Fixture {
  project: string;
  /** Files copied into lp/<project>. */
  files: [from: string, name: string][];
  /** Each step as the command line says it and as the Nx target's options say it. */
  steps: { target: string; argv: string[]; options: Record<string, unknown> }[];
}

const out = (p: string): string => `lp/${p}/out`;

const FIXTURES: Fixture[] = [
  {
    project: 'multi',
    files: ['Makefile', 'klpr-multi.h', 'klpr_multi_main.c', 'klpr_multi_funcs.c'].map((f) => [join(LIVEPATCHES, 'klpr-multi', f), f]),
    steps: [
      { target: 'split', argv: ['split', 'lp/multi/klpr_multi_main.c', '--out', out('multi')], options: { sources: ['lp/multi/klpr_multi_main.c'], outputPath: out('multi') } },
      { target: 'build', argv: ['build', out('multi')], options: { path: out('multi') } },
      {
        target: 'verify',
        argv: ['verify', out('multi'), ...KLPR_TARGETS.flatMap((t) => ['--target', targetKo(t)]), '--no-explore', '--report', `${out('multi')}/verify.json`],
        options: { path: out('multi'), targets: KLPR_TARGETS.map(targetKo), explore: false, report: `${out('multi')}/verify.json` },
      },
    ],
  },
  {
    project: 'objifdef',
    files: [[join(LIVEPATCHES, 'klpr-objifdef/klpr-objifdef.c'), 'klpr-objifdef.c']],
    steps: [
      { target: 'split', argv: ['split', 'lp/objifdef/klpr-objifdef.c', '--out', out('objifdef')], options: { sources: ['lp/objifdef/klpr-objifdef.c'], outputPath: out('objifdef') } },
      { target: 'build', argv: ['build', out('objifdef'), '--json'], options: { path: out('objifdef'), json: true } },
      {
        target: 'verify',
        argv: ['verify', out('objifdef'), '--target', targetKo('klpr_target'), '--target', targetKo('klpr_alpha'), '--report', `${out('objifdef')}/verify.json`],
        options: { path: out('objifdef'), targets: [targetKo('klpr_target'), targetKo('klpr_alpha')], report: `${out('objifdef')}/verify.json` },
      },
    ],
  },
  {
    project: 'relocs',
    files: [[join(ROOT, 'test/fixtures/klp-relocs/livepatches/klpr-fix.c'), 'klpr-fix.c']],
    steps: [
      { target: 'split', argv: ['split', 'lp/relocs/klpr-fix.c', '--out', out('relocs')], options: { sources: ['lp/relocs/klpr-fix.c'], outputPath: out('relocs') } },
      { target: 'build', argv: ['build', out('relocs'), '--target', 'klpr-mod/klpr-mod.ko'], options: { path: out('relocs'), targets: ['klpr-mod/klpr-mod.ko'] } },
      {
        target: 'verify',
        argv: ['verify', out('relocs'), '--target', 'klpr-mod/klpr-mod.ko', '--format', 'sarif', '--report', `${out('relocs')}/verify.json`],
        options: { path: out('relocs'), targets: ['klpr-mod/klpr-mod.ko'], format: 'sarif', report: `${out('relocs')}/verify.json` },
      },
    ],
  },
];


/** The model check's wall-clock time and heap size are the only things two runs may differ in. */
function comparable(name: string, bytes: Buffer): string {
  const text = bytes.toString('latin1');
  return name.endsWith('verify.json') ? JSON.stringify(JSON.parse(text, (k, v) => (k === 'ms' || k === 'heapBytes' ? 0 : v)), null, 2) : text;
}

const timeless = (text: string): string => text.replace(/\b\d+ ms\b/g, 'N ms').trim();

const { ws, nx } = linkedNxWorkspace('nx-cli-parity');
/** What the command line wrote and printed, per project and step. */
const viaCli = new Map<string, { files: Map<string, Buffer>; printed: { target: string; stdout: string; stderr: string; code: number }[] }>();
let nxRun: { code: number; output: string };

beforeAll(async () => {
  // The target modules, built (shared fixtures): what both ways read, not what they are compared on.
  copyFixture(await livepatchTargets(), join(ws, 'targets'));
  copyFixture(await klprModBuilt(), join(ws, 'klpr-mod'));
  for (const f of FIXTURES) {
    const dir = join(ws, 'lp', f.project);
    mkdirSync(dir, { recursive: true });
    for (const [from, name] of f.files) cpSync(from, join(dir, name));
    const targets = Object.fromEntries(f.steps.map((s, i) => [s.target, { executor: `@klp-split/nx:${s.target}`, options: s.options, ...(i ? { dependsOn: [f.steps[i - 1]!.target] } : {}) }]));
    writeFileSync(join(dir, 'project.json'), JSON.stringify({ name: f.project, targets }, null, 2));
  }
  // The command line first, from the workspace root; its outputs kept, then removed for Nx to write again.
  for (const f of FIXTURES) {
    const printed = [];
    for (const s of f.steps) {
      const r = await klpSplit(s.argv, { cwd: ws });
      printed.push({ target: s.target, ...r });
      if (r.code !== 0) throw new Error(`klp-split ${s.argv.join(' ')} failed (${r.code}):\n${r.stdout}${r.stderr}`);
    }
    viaCli.set(f.project, { files: snapshot(join(ws, out(f.project))), printed });
    removeDir(join(ws, out(f.project)));
  }
  nxRun = await nx(['run-many', '-t', 'verify', '-p', FIXTURES.map((f) => f.project).join(','), '--skip-nx-cache', '--output-style=static', '--parallel=1']);
}, 900_000);

afterAll(() => removeDir(ws));

describe('klp-split and nx run give the same results', () => {
  it('every task succeeds under Nx', () => {
    expect(nxRun.code, nxRun.output).toBe(0);
  });

  it.each(FIXTURES.map((f) => [f.project]))('%s: the same files, byte for byte', (project) => {
    const cli = viaCli.get(project)!.files;
    const got = snapshot(join(ws, out(project)));
    expect([...got.keys()]).toEqual([...cli.keys()]);
    for (const [name, bytes] of cli) expect(comparable(name, got.get(name)!), name).toBe(comparable(name, bytes));
    // The run did what the fixture is about: modules were built and verified.
    expect([...cli.keys()].filter((n) => n.endsWith('.ko')).length).toBeGreaterThan(1);
    expect(JSON.parse(cli.get('verify.json')!.toString()).ok ?? JSON.parse(cli.get('verify.json')!.toString())[0].ok).toBe(true);
  });

  it.each(FIXTURES.map((f) => [f.project]))('%s: Nx shows what the command printed', (project) => {
    const text = timeless(nxRun.output);
    for (const p of viaCli.get(project)!.printed) {
      for (const stream of [p.stdout, p.stderr]) if (stream.trim()) expect(text, `${project}:${p.target}`).toContain(timeless(stream));
    }
  });

  it('the split reads the livepatch module of two files (Makefile), the #ifdef objects with the compiler, and the relocations against the target', () => {
    const multi = viaCli.get('multi')!;
    expect(JSON.parse(multi.files.get('klp-split.json')!.toString()).parts.map((p: { module: string }) => p.module)).toEqual(['klpr_multi', ...KLPR_TARGETS.map((t) => `klpr_multi__${t}`)]);
    const objifdef = viaCli.get('objifdef')!;
    expect(objifdef.printed[0]!.stderr).toContain("note: object 'klpr_beta' is under 'defined(CONFIG_KLPR_NEVER_SET)', which this kernel's configuration leaves out");
    expect([...objifdef.files.keys()]).toContain('klpr-objifdef__klpr-alpha.ko');
    expect([...objifdef.files.keys()]).not.toContain('klpr-objifdef__klpr-beta.ko');
    expect(viaCli.get('relocs')!.printed[1]!.stdout).toContain('klpr_mod_value -> .klp.sym.klpr_mod.klpr_mod_value,');
  });
});

describe('a livepatch marker with "sources"', () => {
  it('the inferred split target splits the two files as one module, as the command line does', async () => {
    const dir = join(ws, 'lpm/multi');
    mkdirSync(dir, { recursive: true });
    for (const f of ['Makefile', 'klpr-multi.h', 'klpr_multi_main.c', 'klpr_multi_funcs.c']) cpSync(join(LIVEPATCHES, 'klpr-multi', f), join(dir, f));
    writeFileSync(join(dir, 'klp-livepatch.json'), JSON.stringify({ name: 'multi-marker', sources: ['klpr_multi_main.c', 'klpr_multi_funcs.c'] }));
    const cli = await klpSplit(['split', 'lpm/multi/klpr_multi_main.c', 'lpm/multi/klpr_multi_funcs.c', '--out', 'lpm/multi/out'], { cwd: ws });
    expect(cli.code, cli.stderr).toBe(0);
    const want = snapshot(join(dir, 'out'));
    removeDir(join(dir, 'out'));
    const r = await nx(['run', 'multi-marker:split', '--skip-nx-cache', '--output-style=static']);
    expect(r.code, r.output).toBe(0);
    expect(r.output).toContain(cli.stdout.trim());
    const got = snapshot(join(dir, 'out'));
    expect([...got.keys()]).toEqual([...want.keys()]);
    for (const [name, bytes] of want) expect(got.get(name)!.equals(bytes), name).toBe(true);
    expect(want.has('klpr_multi_funcs__klpr_eps.c')).toBe(true);
  }, 300_000);
});

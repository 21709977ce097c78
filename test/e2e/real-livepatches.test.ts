import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { splitFile, splitLivepatch, type SplitResult } from '@klp-split/splitter';
import { formatDiagnostic } from '@klp-split/core';
import { discoverKernelTree } from '@klp-split/kernel-facts';
import { builtDir } from '../helpers/built-dir.js';
import { checkpatch } from '../helpers/checkpatch.js';
import { kernelIncludeDirs, klpSplit, removeDir, ROOT, tempDir } from '../helpers/env.js';
import { builtSplits } from '../helpers/fixtures.js';
import { klpSplitInProcess } from '../helpers/in-process.js';
import { livepatchTargets } from '../helpers/livepatch-targets.js';
import { keptPreprocess } from '../helpers/kept-preprocess.js';

/**
 * Issue 13: livepatches in the shapes kernel engineers write (test/fixtures/livepatches),
 * each split (against its expected split), built with kbuild against the 6.1
 * headers, verified with its target modules, and checked by checkpatch.pl.
 * The builds (and checkpatch's reports) are shared fixtures keyed by their
 * inputs; verify, simulate and convert run in-process (helpers/in-process.ts).
 * KLP_SPLIT_UPDATE_FIXTURES=1 rewrites the expected splits.
 */
const FIXTURES = join(ROOT, 'test/fixtures/livepatches');
const UPDATE = process.env.KLP_SPLIT_UPDATE_FIXTURES === '1';

interface Fixture {
  name: string;
  targets: string[];
  warnings: string[];
  /** Sources given to the splitter (default `<name>.c`); a file of a composite module brings the others. */
  sources?: string[];
  verifyArgs?: string[];
}

const sourcesOf = (f: Fixture): string[] => (f.sources ?? [`${f.name}.c`]).map((s) => join(FIXTURES, f.name, s));
const allSourcesOf = (f: Fixture): string[] => readdirSync(join(FIXTURES, f.name)).filter((n) => /\.[ch]$/.test(n)).map((n) => join(FIXTURES, f.name, n));

function fixtures(): Fixture[] {
  return readdirSync(FIXTURES)
    .filter((d) => existsSync(join(FIXTURES, d, 'fixture.json')))
    .sort()
    .map((name) => ({ name, ...JSON.parse(readFileSync(join(FIXTURES, name, 'fixture.json'), 'utf8')) }));
}

function split(f: Fixture): SplitResult {
  const tree = discoverKernelTree();
  return splitLivepatch(sourcesOf(f), {
    displayName: f.sources ? undefined : `${f.name}.c`,
    includeDirs: kernelIncludeDirs(),
    preprocess: keptPreprocess(tree),
  });
}

describe('real livepatch shapes', () => {
  const root = tempDir('real');
  /** The splits built, and the targets built: shared fixtures, read only (a test that changes one works on a copy). */
  let splitDir: (name: string) => string;
  let targets: string;
  const out = (name: string) => splitDir(name);
  const ko = (t: string) => join(targets, `${t}.ko`);
  const results = new Map<string, SplitResult>();
  const builds = new Map<string, { code: number; out: string }>();

  beforeAll(async () => {
    const targetsBuilt = livepatchTargets();
    const all = fixtures();
    for (const f of all) results.set(f.name, split(f));
    // Each split built by `klp-split build --json`, two at a time (a shared fixture keyed by the split's text).
    const built = await builtSplits('livepatch-splits', new Map(all.map((f) => [f.name, results.get(f.name)!.files])));
    for (const f of all) {
      const b = built.build(f.name);
      builds.set(f.name, { code: b.code, out: b.stdout + b.stderr });
    }
    splitDir = built.dir;
    targets = await targetsBuilt;
  }, 20 * 60_000);
  afterAll(() => removeDir(root));

  it('has the fixtures', () => {
    expect(fixtures().length).toBeGreaterThanOrEqual(12);
  });

  for (const f of fixtures()) {
    describe(f.name, () => {
      it('splits as expected, with the expected warnings', () => {
        const r = results.get(f.name)!;
        expect(r.kind, r.diagnostics.map(formatDiagnostic).join('\n')).toBe('split');
        expect(r.diagnostics.filter((d) => d.severity !== 'note').map((d) => d.code)).toEqual(f.warnings);
        const want = join(FIXTURES, f.name, 'expected');
        const got = new Map(r.files);
        got.set('diagnostics.txt', r.diagnostics.map((d) => `${formatDiagnostic(d)}\n`).join(''));
        if (UPDATE) {
          rmSync(want, { recursive: true, force: true });
          mkdirSync(want, { recursive: true });
          for (const [file, text] of got) writeFileSync(join(want, file), text);
        }
        expect(readdirSync(want).sort()).toEqual([...got.keys()].sort());
        for (const [file, text] of got) expect(text, `${f.name}/${file}`).toBe(readFileSync(join(want, file), 'utf8'));
      });

      it('builds against the 6.1 headers without a warning', () => {
        const b = builds.get(f.name)!;
        expect(b.code, b.out).toBe(0);
        expect(JSON.parse(b.out).diagnostics).toEqual([]);
      });

      it('verifies with its targets', async () => {
        const r = await klpSplitInProcess(['verify', out(f.name), ...f.targets.flatMap((t) => ['--target', ko(t)]), ...(f.verifyArgs ?? []), '--format', 'json', '-q']);
        const report = JSON.parse(r.stdout);
        expect(report.diagnostics.filter((d: { severity: string }) => d.severity === 'error'), f.name).toEqual([]);
        expect(r.code).toBe(0);
      });

      it('passes checkpatch.pl without errors, the source and every split file', async () => {
        const files = [...allSourcesOf(f), ...[...results.get(f.name)!.files.keys()].filter((n) => /\.[ch]$/.test(n)).map((n) => join(out(f.name), n))];
        const reports = await checkpatch(files);
        files.forEach((file, i) => expect(reports[i], file).toMatch(/^total: 0 errors, \d+ warnings, \d+ lines checked$/m));
      });
    });
  }

  it('decodes escapes and adjacent literals in object and function names as C does', () => {
    const m = results.get('klpr-escapes')!.manifest!;
    expect(m.objNames).toEqual(['klpr_target']);
    expect(m.parts.flatMap((p) => p.funcs.map((fn) => fn.oldName))).toEqual(['cmdline_proc_show', 'klpr_target_read', 'klpr_target_write']);
  });

  it('exports a static function pointer and a static array the parts share, under the patch name', async () => {
    const dir = out('klpr-hooks');
    expect(results.get('klpr-hooks')!.manifest!.exports).toEqual(['klpr_hooks_hook', 'klpr_hooks_hits']);
    expect(readFileSync(join(dir, 'klpr-hooks.h'), 'utf8')).toContain('extern int (*klpr_hooks_hook)(int);');
    for (const part of ['klpr-hooks__klpr-alpha.ko', 'klpr-hooks__klpr-beta.ko']) {
      const nm = await execa('nm', ['-u', join(dir, part)]);
      expect(nm.stdout, part).toMatch(/\bklpr_hooks_hook$/m);
      expect(nm.stdout, part).toMatch(/\bklpr_hooks_hits$/m);
    }
    const symvers = readFileSync(join(dir, 'Module.symvers'), 'utf8');
    expect(symvers).toMatch(/\tklpr_hooks_hook\t/);
  });

  it('keeps klp_func entries under #ifdef in their array, and lists those the configuration keeps', () => {
    const r = results.get('klpr-ifdef')!;
    const part = r.manifest!.parts.find((p) => p.object === 'klpr_target')!;
    expect(part.funcs).toEqual([
      { oldName: 'klpr_target_read', newFunc: 'new_read', sympos: 0 },
      { oldName: 'klpr_target_write', newFunc: 'new_write', sympos: 0, condition: 'defined(CONFIG_X86_64)' },
    ]);
    expect(r.diagnostics.map((d) => `${d.line}:${d.code}`)).toEqual(['42:func-compiled-out']);
    const text = r.files.get('klpr-ifdef__klpr-target.c')!;
    expect(text).toContain('#ifdef CONFIG_KLPR_NEVER_SET\n\t{\n\t\t.old_name = "klpr_target_write",\n\t\t.new_func = new_write_other,');
  });

  it('evaluates names built by macros with the compiler and records that in the manifest', () => {
    const m = results.get('klpr-macro-names')!.manifest!;
    expect(m.objNames).toEqual(['klpr_beta']);
    expect(m.parts.flatMap((p) => p.funcs)).toEqual([
      { oldName: '__x64_sys_getpid', newFunc: 'new_getpid', sympos: 0, nameFrom: 'compiler' },
      { oldName: 'klpr_beta_read', newFunc: 'new_read', sympos: 0, nameFrom: 'compiler' },
    ]);
  });

  it('refuses a macro-built name without a compiler, rather than guessing', () => {
    const r = splitFile(join(FIXTURES, 'klpr-macro-names/klpr-macro-names.c'), { displayName: 'klpr-macro-names.c' });
    expect(r.kind).toBe('invalid');
    expect(r.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.line}:${d.code}`)).toEqual(['30:needs-compiler', '48:unsupported-object-name']);
    for (const d of r.diagnostics) expect(d.message).toContain('--kdir');
  });

  it('reads a livepatch module built from two files as one unit, findings at their own file', () => {
    const r = results.get('klpr-multi')!;
    expect(r.manifest!.sources).toEqual(['klpr_multi_main.c', 'klpr_multi_funcs.c']);
    expect(r.manifest!.objNames).toEqual(['klpr_target', 'klpr_alpha', 'klpr_beta', 'klpr_gamma', 'klpr_delta', 'klpr_eps']);
    // The per-object module draws on both files: each function stays in a file named after its original.
    expect(r.manifest!.parts.find((p) => p.object === 'klpr_eps')!.files).toEqual(['klpr_multi_main__klpr_eps.c', 'klpr_multi_funcs__klpr_eps.c']);
    expect(r.files.get('klpr_multi_funcs__klpr_eps.c')).toContain('int new_eps_read(int v)');
    expect(r.files.get('klpr_multi_funcs__klpr_eps.c')).toContain('int klpr_count_read(void *owner, int v)');
    expect(r.files.get('klpr_multi_main__klpr_eps.c')).toContain('static struct klp_func eps_funcs[] = {');
    expect(r.files.get('klpr_multi_main__klpr_eps.c')).not.toContain('int new_eps_read(int v)');
    expect(r.files.get('klpr-multi.h')).toBe(readFileSync(join(FIXTURES, 'klpr-multi/klpr-multi.h'), 'latin1'));
    // Findings in the second file point at its own lines.
    const dir = join(root, 'multi-fault');
    cpSync(join(FIXTURES, 'klpr-multi'), dir, { recursive: true });
    const funcs = join(dir, 'klpr_multi_funcs.c');
    const text = readFileSync(funcs, 'utf8')
      .replace('#include "klpr-multi.h"\n', '#include "klpr-multi.h"\n\nstatic int hits;\n')
      .replace('return klpr_count_read(THIS_MODULE, v) + 5;', 'return klpr_count_read(THIS_MODULE, v) + hits++;')
      .replace('return klpr_count_read(THIS_MODULE, v) + 6;', 'return klpr_count_read(THIS_MODULE, v) + hits++;');
    writeFileSync(funcs, text);
    const lineOf = (t: string, needle: string) => t.split('\n').findIndex((l) => l.startsWith(needle)) + 1;
    const shared = splitLivepatch([join(dir, 'klpr_multi_main.c')], {});
    expect(shared.diagnostics.map((x) => `${x.file}:${x.line}:${x.code}`)).toEqual([`klpr_multi_funcs.c:${lineOf(text, 'static int hits;')}:shared-mutable-state`]);
    // The livepatch's own klpr-multi.h keeps its name and text; the split's shared header takes another.
    expect(shared.manifest!.header).toBe('klpr-multi-shared.h');
    expect(shared.files.get('klpr-multi-shared.h')).toContain('#ifndef _KLPR_MULTI_SHARED_H');
    expect(shared.files.get('klpr-multi.h')).toBe(readFileSync(join(dir, 'klpr-multi.h'), 'utf8'));
    const main = join(dir, 'klpr_multi_main.c');
    writeFileSync(main, readFileSync(main, 'utf8').replace('static int klpr_multi_init(void)', 'int new_eps_read(int v)\n{\n\treturn v;\n}\n\nstatic int klpr_multi_init(void)'));
    const twice = splitLivepatch([funcs], {});
    expect(twice.kind).toBe('invalid');
    expect(twice.diagnostics.map((x) => `${x.file}:${x.line}:${x.code}`)).toEqual([`klpr_multi_funcs.c:${lineOf(text, 'int new_eps_read')}:multi-file-name-clash`]);
  });

  it('warns at each line a callback reads obj->mod', () => {
    const d = results.get('klpr-objmod')!.diagnostics.filter((x) => x.code === 'obj-mod-meaning');
    const src = readFileSync(join(FIXTURES, 'klpr-objmod/klpr-objmod.c'), 'utf8').split('\n');
    expect(d.map((x) => src[x.line - 1]!.slice(x.col - 1, x.col - 1 + 'obj->mod'.length))).toEqual(['obj->mod', 'obj->mod']);
  });

  it('loads v1 and its cumulative v2 (replace) together in the simulator', async () => {
    const scenario = join(FIXTURES, 'klpr-cumul-v2/upgrade.scenario');
    const r = await klpSplitInProcess(['simulate', out('klpr-cumul-v2'), '--also', out('klpr-cumul-v1'), '--target', ko('klpr_target'), '--scenario', scenario]);
    expect(r.stdout).toContain("livepatch: 'klpr_cumul_v2': patching complete");
    expect(r.stdout).not.toContain('duplicate symbol');
    expect(r.code, r.stdout).toBe(0);
  });

  it('the simulator refuses the same two versions when both export the generic name', async () => {
    const scenario = join(FIXTURES, 'klpr-cumul-v2/upgrade.scenario');
    const generic = (v: string): string => {
      const dir = join(root, `generic-${v}`);
      cpSync(out(`klpr-cumul-${v}`), dir, { recursive: true });
      for (const file of readdirSync(dir).filter((n) => /\.[ch]$/.test(n) && !n.endsWith('.mod.c'))) {
        const p = join(dir, file);
        writeFileSync(p, readFileSync(p, 'utf8').replaceAll(`klpr_cumul_${v}_verbose`, 'verbose'));
      }
      return dir;
    };
    // Each version built: a shared fixture keyed by its files (helpers/built-dir.ts).
    const [v1, v2] = [await builtDir('livepatch-generic', generic('v1'), ['-q']), await builtDir('livepatch-generic', generic('v2'), ['-q'])];
    for (const b of [v1, v2]) expect(b.code, b.stdout + b.stderr).toBe(0);
    const r = await klpSplitInProcess(['simulate', v2.dir, '--also', v1.dir, '--target', ko('klpr_target'), '--scenario', scenario]);
    // A failed modprobe is a possible outcome in a scenario, not a broken invariant: the transcript shows it.
    expect(r.stdout).toContain('klpr_cumul_v2: exports duplicate symbol verbose (owned by klpr_cumul_v1)');
    expect(r.stdout).not.toContain("livepatch: 'klpr_cumul_v2': patching complete");
  }, 120_000);

  it('verify without the targets says what it did not check and fails unless --allow-unchecked', async () => {
    const dir = out('klpr-hooks');
    const none = await klpSplitInProcess(['verify', dir, '-q']);
    expect(none.code).toBe(1);
    expect(none.stdout).toContain("per-object module 'klpr_hooks__klpr_alpha' was not checked against its target 'klpr_alpha' (klpr_alpha_read)");
    const other = await klpSplitInProcess(['verify', dir, '--target', ko('klpr_alpha'), '--target', ko('klpr_beta'), '--target', ko('klpr_target'), '-q']);
    expect(other.code).toBe(1);
    expect(other.stdout).toContain("--target 'klpr_target' is not one of the patch's objects (klpr_alpha, klpr_beta) [target-not-an-object]");
    const allowed = await klpSplitInProcess(['verify', dir, '--target', ko('klpr_alpha'), '--allow-unchecked', '-q']);
    expect(allowed.stdout).toContain('[object-unchecked]');
    expect(allowed.code).toBe(0);
  });

  it('convert writes the livepatches it can split, reports the others, and verify reads what it wrote', async () => {
    const dir = join(root, 'convert-dir');
    mkdirSync(dir);
    cpSync(join(FIXTURES, 'klpr-escapes/klpr-escapes.c'), join(dir, 'klpr-escapes.c'));
    cpSync(join(FIXTURES, 'klpr-ifdef/klpr-ifdef.c'), join(dir, 'klpr-ifdef.c'));
    const broken = readFileSync(join(FIXTURES, 'klpr-objmod/klpr-objmod.c'), 'utf8').replace('.new_func = new_read,', '.new_func = new_read_missing,');
    writeFileSync(join(dir, 'klpr-broken.c'), broken);
    writeFileSync(join(dir, 'Makefile'), 'obj-$(CONFIG_KLPR_ESCAPES) += klpr-escapes.o klpr-ifdef.o\n');
    const c = await klpSplitInProcess(['convert', dir]);
    expect(c.code, c.stdout + c.stderr).toBe(1);
    expect(c.stdout).toContain('not converted (errors above): klpr-broken.c');
    expect(c.stderr + c.stdout).toContain("new_func 'new_read_missing' is not defined in this file [new-func-undefined]");
    expect(existsSync(join(dir, 'klpr-escapes.klp-split.json'))).toBe(true);
    expect(existsSync(join(dir, 'klpr-escapes__klpr-target.c'))).toBe(true);
    expect(JSON.parse(readFileSync(join(dir, 'klpr-ifdef.klp-split.json'), 'utf8')).parts[1].funcs.map((f: { newFunc: string }) => f.newFunc)).toEqual(['new_read', 'new_write']);
    expect(readFileSync(join(dir, 'klpr-broken.c'), 'utf8')).toBe(broken);
    // The converted directory's build: a shared fixture keyed by its files (helpers/built-dir.ts).
    const b = await builtDir('livepatch-converted', dir, ['-q']);
    expect(b.code, b.stdout + b.stderr).toBe(0);
    const v = await klpSplitInProcess(['verify', b.dir, '--target', ko('klpr_target'), '-q']);
    expect(v.stdout).toContain('verify: klpr_escapes: OK');
    expect(v.stdout).toContain('verify: klpr_ifdef: OK');
    expect(v.code, v.stdout).toBe(0);
  }, 120_000);

  it('points a verify finding (text, SARIF) at the line of the original source a fault was injected in', async () => {
    const src = join(root, 'sarif-src');
    cpSync(join(FIXTURES, 'klpr-hooks'), src, { recursive: true });
    const file = join(src, 'klpr-hooks.c');
    const text = readFileSync(file, 'utf8')
      .replace('static int (*hook)(int);', 'int klpr_beta_version(void);\nstatic int (*hook)(int);')
      .replace('return hook ? hook(v) + 1 : v;', 'return hook ? hook(v) + klpr_beta_version() : v;');
    writeFileSync(file, text);
    const faultLine = text.split('\n').findIndex((l) => l.includes('klpr_beta_version() : v;')) + 1;
    const dir = join(root, 'sarif-out');
    expect((await klpSplit(['split', file, '--out', dir])).code).toBe(0);
    // Without the livepatch relocation pass: it would turn the call into a .klp.rela entry, which is the
    // fix for this deadlock, and leave verify nothing to find. (The build: a shared fixture keyed by the
    // split, helpers/built-dir.ts; its copy keeps the manifest, whose source map names the original as the
    // split wrote it, relative to `dir`. verify runs as the real command line, in the built directory.)
    const b = await builtDir('livepatch-sarif', dir, ['--symbols', join(targets, 'Module.symvers'), '--no-klp-relocs', '-q']);
    expect(b.code, b.stdout + b.stderr).toBe(0);
    const generated = readFileSync(join(dir, 'klpr-hooks__klpr-beta.c'), 'utf8').split('\n').findIndex((l) => l.includes('klpr_beta_version() : v;')) + 1;
    const args = ['verify', b.dir, '--target', ko('klpr_alpha'), '--target', ko('klpr_beta'), '-q'];
    const t = await klpSplit(args);
    expect(t.code).toBe(1);
    expect(t.stdout).toMatch(new RegExp(`^${relative(dir, file).replace(/[.]/g, '\\.')}:${faultLine}:\\d+: error: .*klpr_beta_version.* \\(generated klpr-hooks__klpr-beta\\.c:${generated}:\\d+\\) \\[target-export-deadlock\\]$`, 'm'));
    const sarif = JSON.parse((await klpSplit([...args, '--format', 'sarif'], { cwd: b.dir })).stdout);
    const result = sarif.runs[0].results.find((x: { ruleId: string }) => x.ruleId === 'target-export-deadlock');
    expect(result.locations[0].physicalLocation.artifactLocation.uri).toBe(relative(dir, file));
    expect(result.locations[0].physicalLocation.region.startLine).toBe(faultLine);
    expect(result.relatedLocations[0].physicalLocation.artifactLocation.uri).toBe('klpr-hooks__klpr-beta.c');
    expect(result.relatedLocations[0].physicalLocation.region.startLine).toBe(generated);
  }, 120_000);

  it('build of a Makefile with obj-$(CONFIG_...) that builds nothing fails and names --config', async () => {
    const dir = join(root, 'config-dir');
    mkdirSync(dir);
    cpSync(join(FIXTURES, 'targets/klpr_target.c'), join(dir, 'klpr_target.c'));
    writeFileSync(join(dir, 'Makefile'), 'obj-$(CONFIG_KLPR_TARGET) += klpr_target.o\n');
    // Both builds: shared fixtures keyed by the directory and the arguments (helpers/built-dir.ts).
    const r = await builtDir('livepatch-config', dir, ['-q']);
    expect(r.code).toBe(1);
    expect(r.stderr + r.stdout).toContain('pass --config CONFIG_KLPR_TARGET=m [nothing-built]');
    const ok = await builtDir('livepatch-config', dir, ['--config', 'CONFIG_KLPR_TARGET=m', '-q']);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
  });
});

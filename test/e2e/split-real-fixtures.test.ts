import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILD_RECORD, contentHash, readManifest } from '@klp-split/core';
import { loadFacts, rewriteModuleFile, SourceIndex, splitterFacts } from '@klp-split/klp-relocs';
import { checkSplit, loadSplitSystem } from '@klp-split/runtime-sim';
import { placementViolations } from '@klp-split/splitter';
import { builtDir } from '../helpers/built-dir.js';
import { checkpatch } from '../helpers/checkpatch.js';
import { removeDir, ROOT, tempDir } from '../helpers/env.js';
import { copyFixture } from '../helpers/fixtures.js';
import { klpSplitInProcess as klpSplit } from '../helpers/in-process.js';
import { splitRealBuilt, splitRealFixtures, SPLIT_REAL, type SplitRealBuilt, type SplitRealFixture } from '../helpers/split-real.js';

/**
 * Issue 21: klp-convert-style livepatches (test/fixtures/split-real: helpers
 * that read a target module's statics and call its static functions,
 * homonyms by position, data in several sections, static keys, both
 * annotation forms), each split with its targets' symbols, built against
 * Debian's 6.1 headers, verified, checked for the placement rule and by
 * checkpatch.pl; and verify's refusals of what cannot load or is stale.
 * (The same fixtures on the real split kernel: split-real-kernel.test.ts.)
 * The splits and builds are a shared fixture (helpers/split-real.ts) whose
 * commands' outputs are kept; the other commands run in-process
 * (helpers/in-process.ts). KLP_SPLIT_UPDATE_FIXTURES=1 rewrites the expected splits.
 */
const UPDATE = process.env.KLP_SPLIT_UPDATE_FIXTURES === '1';

describe('klp-convert-style livepatches, split by object', () => {
  const root = tempDir('split-real');
  let built: SplitRealBuilt;
  const fixtures = splitRealFixtures();
  /** A fixture's split, built (the shared fixture: read only). */
  const out = (name: string) => built.dir(name);
  /** A directory of this suite's own. */
  const mine = (name: string) => join(root, name);
  const targets = () => built.targets;
  const targetArgs = (f: SplitRealFixture) => f.targets.flatMap((t) => ['--target', join(targets(), `${t}.ko`)]);
  const splits = new Map<string, { code: number; out: string }>();
  const builds = new Map<string, { code: number; out: string }>();

  beforeAll(async () => {
    built = await splitRealBuilt();
    for (const f of fixtures) {
      const s = built.split(f.name);
      splits.set(f.name, { code: s.code, out: s.stdout + s.stderr });
      const b = built.build(f.name);
      builds.set(f.name, { code: b.code, out: b.stdout + b.stderr });
    }
  }, 900_000);
  afterAll(() => removeDir(root));

  it('has at least ten fixtures', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(10);
  });

  for (const f of fixtures) {
    describe(f.name, () => {
      it('splits as expected, with the expected warnings', () => {
        const s = splits.get(f.name)!;
        expect(s.code, s.out).toBe(0);
        const result = JSON.parse(s.out) as { files: string[]; diagnostics: { severity: string; code: string }[] };
        expect(result.diagnostics.filter((d) => d.severity !== 'note').map((d) => d.code)).toEqual(f.warnings);
        const want = join(SPLIT_REAL, f.name, 'expected');
        // The manifest's source map names the original relative to the output: where the checkout is.
        const text = (file: string) => readFileSync(join(out(f.name), file), 'latin1').replace(/"(?:\.\.\/)+[^"]*\/(test\/fixtures\/split-real\/[^"]+)"/, '"<repo>/$1"');
        const got = new Map(result.files.map((file) => [file, text(file)]));
        if (UPDATE) {
          rmSync(want, { recursive: true, force: true });
          mkdirSync(want, { recursive: true });
          for (const [file, text] of got) writeFileSync(join(want, file), text, 'latin1');
        }
        expect(readdirSync(want).sort()).toEqual([...got.keys()].sort());
        for (const [file, text] of got) expect(text, `${f.name}/${file}`).toBe(readFileSync(join(want, file), 'latin1'));
      });

      it('keeps every use of a module symbol in that module\'s part (placementViolations)', () => {
        const manifest = readManifest(join(out(f.name), 'klp-split.json'));
        const files = new Map(readdirSync(out(f.name)).filter((n) => /\.[ch]$/.test(n) && !n.endsWith('.mod.c')).map((n) => [n, readFileSync(join(out(f.name), n), 'latin1')]));
        const facts = splitterFacts(loadFacts({ symvers: [], targets: f.targets.map((t) => join(targets(), `${t}.ko`)) }));
        expect(placementViolations(files, manifest, facts)).toEqual([]);
      });

      it('builds against the 6.1 headers without a warning', () => {
        const b = builds.get(f.name)!;
        expect(b.code, b.out).toBe(0);
        expect(JSON.parse(b.out).diagnostics).toEqual([]);
      });

      it('verifies with its targets: no finding, the model check complete', async () => {
        const r = await klpSplit(['verify', out(f.name), ...targetArgs(f), '--format', 'json', '-q']);
        const report = JSON.parse(r.stdout);
        expect(report.diagnostics.filter((d: { severity: string }) => d.severity === 'error'), f.name).toEqual([]);
        expect(report.exploration.complete).toBe(true);
        expect(r.code).toBe(0);
      });

      it('passes checkpatch.pl without errors, the source and every split file', async () => {
        const files = [join(SPLIT_REAL, f.name, `${f.name}.c`), ...readdirSync(out(f.name)).filter((n) => /\.[ch]$/.test(n) && !n.endsWith('.mod.c')).map((n) => join(out(f.name), n))];
        // checkpatch's reports: a shared fixture keyed by the script and the files (helpers/checkpatch.ts).
        const reports = await checkpatch(files);
        files.forEach((file, i) => expect(reports[i], file).toMatch(/^total: 0 errors, \d+ warnings, \d+ lines checked$/m));
      });
    });
  }

  it('puts the helpers that read the target\'s statics, and the init work calling them, into the per-object module', () => {
    const main = readFileSync(join(out('klpc-strings'), 'klpc-strings.c'), 'latin1');
    const part = readFileSync(join(out('klpc-strings'), 'klpc-strings__klpc-mod.c'), 'latin1');
    expect(part).toContain('void print_driver_name(void)\n{\n\tpr_info("klpc_driver_name: %s\\n", klpc_driver_name);');
    expect(part).toContain('\tret = klp_add_object(&obj);\n\tif (ret)\n\t\treturn ret;\n\n\tprint_driver_name();\n\tprint_banner();\n\n\treturn 0;');
    expect(main).not.toContain('print_driver_name');
    const relocs = JSON.parse(builds.get('klpc-strings')!.out).relocations as { module: string; symbols: { klpName: string }[] }[];
    expect(relocs.map((r) => [r.module, r.symbols.map((s) => s.klpName).sort()])).toEqual([
      ['klpc_strings__klpc_mod', ['.klp.sym.klpc_mod.klpc_banner,0', '.klp.sym.klpc_mod.klpc_driver_name,0', '.klp.sym.klpc_mod.klpc_get_driver_name,0']],
    ]);
  });

  it('writes the positions the annotations give, as klp-convert does', () => {
    const sympos = (name: string) => (JSON.parse(builds.get(name)!.out).relocations as { symbols: { klpName: string }[] }[]).flatMap((r) => r.symbols.map((s) => s.klpName)).sort();
    expect(sympos('klpc-annotated')).toEqual(['.klp.sym.klpc_mod.klpc_driver_name,0', '.klp.sym.klpc_mod.klpc_get_homonym,2', '.klp.sym.klpc_mod.klpc_hits,0', '.klp.sym.klpc_mod.klpc_homonym,2']);
    expect(sympos('klpc-module-reloc')).toEqual(['.klp.sym.klpc_mod.klpc_driver_name,0', '.klp.sym.klpc_mod.klpc_get_homonym,1', '.klp.sym.klpc_mod.klpc_homonym,1']);
  });

  describe('a split whose main module relocates against a module (as klp-split wrote it before placement by object)', () => {
    let dir: string;
    beforeAll(async () => {
      const split = mine('wrong-placement-split');
      const klpcMod = ['--target', join(targets(), 'klpc_mod.ko')];
      const s = await klpSplit(['split', join(SPLIT_REAL, 'klpc-module-reloc/klpc-module-reloc.c'), '--out', split, ...klpcMod]);
      expect(s.code, s.stderr).toBe(0);
      for (const file of readdirSync(join(ROOT, 'test/fixtures/split-real-wrong'))) cpSync(join(ROOT, 'test/fixtures/split-real-wrong', file), join(split, file));
      // klp-split build refuses it now: it is built as linked and its livepatch relocations written as one
      // classic module's would be (.klp.rela.klpc_mod in the main module), then recorded as built.
      // (Both builds are shared fixtures keyed by the directory: helpers/built-dir.ts.)
      const refused = await builtDir('split-real-wrong', split, [...klpcMod, '-q']);
      expect(refused.code).toBe(1);
      expect(refused.stderr + refused.stdout).toContain("only the per-object module '<patch>__klpc_mod' may relocate against 'klpc_mod'");
      const b = await builtDir('split-real-wrong', split, ['--no-klp-relocs', '--config', 'KBUILD_MODPOST_WARN=1', '-q']);
      expect(b.code, b.stderr).toBe(0);
      dir = copyFixture(b.dir, mine('wrong-placement'));
      const ko = join(dir, 'klpc-module-reloc.ko');
      const facts = loadFacts({ symvers: [], targets: [join(targets(), 'klpc_mod.ko')] });
      const o = rewriteModuleFile(ko, { role: { kind: 'classic', objects: ['vmlinux', 'klpc_mod'] }, facts, sources: SourceIndex.ofDirectory(dir) });
      expect(o.written, JSON.stringify(o.diagnostics)).toBe(true);
      const recordPath = join(dir, BUILD_RECORD);
      const record = JSON.parse(readFileSync(recordPath, 'utf8'));
      for (const m of record.modules) m.sha256 = contentHash(readFileSync(join(dir, m.ko)));
      writeFileSync(recordPath, JSON.stringify(record, null, 2));
    }, 300_000);

    it('verify fails with the split kernel\'s words', async () => {
      const r = await klpSplit(['verify', dir, '--target', join(targets(), 'klpc_mod.ko')]);
      expect(r.code, r.stdout).toBe(1);
      expect(r.stdout).toMatch(/error: section \.klp\.rela\.klpc_mod\.text\S* of module 'klpc_module_reloc': only the per-object module '<patch>__klpc_mod' may relocate against 'klpc_mod' .*\[klp-rela-not-carried\]/);
    });

    it('the simulator refuses the main module as the split kernel does, and calls it a violation', async () => {
      const scenario = mine('wrong.scenario');
      writeFileSync(scenario, 'modprobe klpc_mod\nmodprobe klpc_module_reloc\n');
      const r = await klpSplit(['simulate', dir, '--target', join(targets(), 'klpc_mod.ko'), '--scenario', scenario]);
      expect(r.stdout).toMatch(/^livepatch: section \.klp\.rela\.klpc_mod\.text\S* of module 'klpc_module_reloc': only the per-object module '<patch>__klpc_mod' may relocate against 'klpc_mod'$/m);
      expect(r.stdout).toContain('violation [split-refused-classic-loads]');
      expect(r.code).toBe(1);
    });

    it('the model check reports the orders where the split is refused and one classic module would load', () => {
      const sys = loadSplitSystem(dir, [join(targets(), 'klpc_mod.ko')]);
      const result = checkSplit(sys.sys, { patches: ['klpc_module_reloc'], targets: ['klpc_mod'], patchLoads: 1, targetLoads: 1 });
      expect(result.violations.map((v) => v.code)).toContain('split-refused-classic-loads');
    });
  });

  describe('stale modules', () => {
    it('verify refuses modules older than their sources, and those a failed build left', async () => {
      // A copy of the built split (its build record names its files relatively) verifies as the build left it.
      const dir = copyFixture(out('klpc-export'), mine('stale'));
      const ok = await klpSplit(['verify', dir, '--target', join(targets(), 'klpc_mod.ko'), '-q']);
      expect(ok.code).toBe(0);
      const part = join(dir, 'klpc-export__klpc-mod.c');
      writeFileSync(part, `${readFileSync(part, 'latin1')}/* edited */\n`);
      const older = await klpSplit(['verify', dir, '--target', join(targets(), 'klpc_mod.ko')]);
      expect(older.code).toBe(2);
      expect(older.stderr).toContain("error: stale: 'klpc-export__klpc-mod.c' changed after the build: its modules are older than their sources [stale]");
      writeFileSync(part, readFileSync(part, 'latin1').replace('return v + klpc_exported_value();', 'return v + klpc_exported_value()'));
      const failed = await klpSplit(['build', dir, '--target', join(targets(), 'klpc_mod.ko'), '-q']);
      expect(failed.code).toBe(1);
      expect(existsSync(join(dir, 'klpc-export__klpc-mod.ko'))).toBe(true);
      const after = await klpSplit(['verify', dir, '--target', join(targets(), 'klpc_mod.ko')]);
      expect(after.code).toBe(2);
      expect(after.stderr).toMatch(/error: stale: the last 'klp-split build' of this directory failed \(.*, \d+ errors?\): its modules are from an earlier build \[stale\]/);
    }, 300_000);
  });
});

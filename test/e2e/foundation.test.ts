import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { corpusModules } from '../helpers/corpus.js';
import { builtDir } from '../helpers/built-dir.js';
import { klpSplit, removeDir, samples, tempDir } from '../helpers/env.js';

/**
 * Issue 2: livepatch-shadow-fix1.c from the corpus through split, build and
 * verify, each the real command line. The builds are shared fixtures keyed
 * by the directory they build (helpers/built-dir.ts): `built` is the split
 * in `out` as `klp-split build` left it.
 */
describe('livepatch-shadow-fix1 through split, build, verify', () => {
  let out: string;
  let built: string;
  let target: string;

  beforeAll(async () => {
    out = tempDir('shadow-fix1');
    const built = await corpusModules();
    target = built.ko('livepatch-shadow-mod.c');
  });
  afterAll(() => {
    removeDir(out);
  });

  it('splits into the main module, the per-object module and the manifest', async () => {
    const r = await klpSplit(['split', samples('livepatch-shadow-fix1.c'), '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const main = readFileSync(join(out, 'livepatch-shadow-fix1.c'), 'utf8');
    const part = readFileSync(join(out, 'livepatch-shadow-fix1__livepatch-shadow-mod.c'), 'utf8');
    expect(main).toMatch(/\.patch_name = KBUILD_MODNAME,\n\t\.name = NULL,\n\t\.mod = THIS_MODULE,/);
    expect(main).toContain('static char *obj_names[] = {\n\t"livepatch_shadow_mod",\n\tNULL\n};');
    expect(main).toContain('return klp_enable_patch(&patch);');
    expect(main).not.toContain('livepatch_fix1_dummy_alloc');
    expect(part).toContain('.patch_name = "livepatch_shadow_fix1",');
    expect(part).toContain('.name = "livepatch_shadow_mod",');
    expect(part).toContain('return klp_add_object(&obj);');
    // Shadow-variable cleanup moves with its object.
    expect(part).toMatch(/_exit\(void\)\n\{\n\t\/\* Cleanup any existing SV_LEAK shadow variables \*\/\n\tklp_shadow_free_all\(SV_LEAK, livepatch_fix1_dummy_leak_dtor\);\n\}/);
    const manifest = JSON.parse(readFileSync(join(out, 'klp-split.json'), 'utf8'));
    expect(manifest.patch).toBe('livepatch_shadow_fix1');
    expect(manifest.parts.map((p: { module: string }) => p.module)).toEqual(['livepatch_shadow_fix1', 'livepatch_shadow_fix1__livepatch_shadow_mod']);
    expect(manifest.parts[1].funcs).toEqual([
      { oldName: 'dummy_alloc', newFunc: 'livepatch_fix1_dummy_alloc', sympos: 0 },
      { oldName: 'dummy_free', newFunc: 'livepatch_fix1_dummy_free', sympos: 0 },
    ]);
  });

  it('builds both modules with kbuild without a single compiler warning', async () => {
    const r = await builtDir('foundation-build', out, ['--json']);
    built = r.dir;
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.diagnostics).toEqual([]);
    expect(result.modules.map((m: { module: string }) => m.module).sort()).toEqual(['livepatch_shadow_fix1', 'livepatch_shadow_fix1__livepatch_shadow_mod']);
  });

  it('gives modules whose modinfo names and livepatch flag are right', async () => {
    const part = await execa('modinfo', [join(built, 'livepatch-shadow-fix1__livepatch-shadow-mod.ko')]);
    expect(part.stdout).toMatch(/^name:\s+livepatch_shadow_fix1__livepatch_shadow_mod$/m);
    expect(part.stdout).toMatch(/^livepatch:\s+Y$/m);
    const main = await execa('modinfo', ['-F', 'name', join(built, 'livepatch-shadow-fix1.ko')]);
    expect(main.stdout.trim()).toBe('livepatch_shadow_fix1');
  });

  it('verifies: loading the target then the patch requests and loads the per-object module', async () => {
    const r = await klpSplit(['verify', built, '--target', target, '--format', 'json']);
    expect(r.code, r.stdout).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.ok).toBe(true);
    expect(report.transcript).toEqual(
      expect.arrayContaining([
        '% modprobe livepatch_shadow_mod',
        '% modprobe livepatch_shadow_fix1',
        "livepatch: enabling patch 'livepatch_shadow_fix1'",
        '[request_module] livepatch_shadow_fix1__livepatch_shadow_mod',
        "livepatch: 'livepatch_shadow_fix1': patching complete",
      ]),
    );
    const text = await klpSplit(['verify', built, '--target', target]);
    expect(text.stdout).toContain("livepatch: 'livepatch_shadow_fix1': starting patching transition");
    expect(text.stdout).toMatch(/verify: livepatch_shadow_fix1: OK$/);
  });

  it('fails verify when the per-object object names a module missing from obj_names', async () => {
    const bad = tempDir('shadow-fix1-bad');
    try {
      await klpSplit(['split', samples('livepatch-shadow-fix1.c'), '--out', bad]);
      const file = join(bad, 'livepatch-shadow-fix1__livepatch-shadow-mod.c');
      const text = readFileSync(file, 'utf8');
      writeFileSync(file, text.replace('.name = "livepatch_shadow_mod",', '.name = "livepatch_other_mod",'));
      const b = await builtDir('foundation-build', bad);
      expect(b.code, b.stderr).toBe(0);
      const r = await klpSplit(['verify', b.dir, '--target', target]);
      expect(r.code).toBe(1);
      const line = text.split('\n').findIndex((l) => l.includes('.name = "livepatch_shadow_mod"')) + 1;
      // Reported at the object's entry in the original klp_object array; the split file's line alongside.
      const original = samples('livepatch-shadow-fix1.c');
      const objectLine = readFileSync(original, 'utf8').split('\n').findIndex((l) => l.includes('.name = "livepatch_shadow_mod"'));
      expect(r.stdout).toContain(
        `${relative(bad, original)}:${objectLine}:0: error: object 'livepatch_other_mod' of module 'livepatch_shadow_fix1__livepatch_shadow_mod' is not in obj_names of patch 'livepatch_shadow_fix1' [livepatch_shadow_mod]: klp_add_object() would fail with -EINVAL (generated livepatch-shadow-fix1__livepatch-shadow-mod.c:${line}:10) [object-not-in-obj-names]`,
      );
      expect(r.stdout).toMatch(/verify: livepatch_shadow_fix1: FAILED/);
    } finally {
      removeDir(bad);
    }
  });
});

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtDir } from '../helpers/built-dir.js';
import { corpusModules } from '../helpers/corpus.js';
import { removeDir, ROOT, samples, tempDir } from '../helpers/env.js';
import { klpSplitInProcess as klpSplit } from '../helpers/in-process.js';

/**
 * Issue 5: each hazard of the split design, found by verify or simulate on
 * real modules built with kbuild (fixtures in test/fixtures/hazards). The
 * commands run in-process (helpers/in-process.ts); each split's build, and
 * the targets', is a shared fixture keyed by its files (helpers/built-dir.ts).
 */
const dirs: string[] = [];
afterAll(() => dirs.forEach(removeDir));
const scratch = (name: string) => {
  const d = tempDir(name);
  dirs.push(d);
  return d;
};

let dupDir: string;
let keysDir: string;
let shadowMod: string;
let callbacksTargets: { ko: (n: string) => string };

/** The source split, edited, and built (read only: the shared fixture's copy). */
async function splitBuilt(source: string, edit?: (dir: string) => void, extra: string[] = []): Promise<string> {
  const out = scratch('hazard');
  expect((await klpSplit(['split', source, '--out', out])).code).toBe(0);
  edit?.(out);
  const b = await builtDir('hazard-split', out, ['--config', 'KBUILD_MODPOST_WARN=1', ...extra]);
  expect(b.code, b.stderr).toBe(0);
  return b.dir;
}

async function verifyCodes(out: string, targets: string[]): Promise<{ code: number; codes: string[]; stdout: string }> {
  const r = await klpSplit(['verify', out, ...targets.flatMap((t) => ['--target', t]), '--format', 'json']);
  const report = JSON.parse(r.stdout);
  return { code: r.code, codes: report.diagnostics.filter((d: { severity: string }) => d.severity === 'error').map((d: { code: string }) => d.code), stdout: r.stdout };
}

function editFile(path: string, from: string, to: string): void {
  const text = readFileSync(path, 'utf8');
  expect(text).toContain(from);
  writeFileSync(path, text.replace(from, to));
}

beforeAll(async () => {
  const built = async (m: string): Promise<string> => {
    const b = await builtDir('hazard-targets', join(ROOT, 'test/fixtures/hazards', m));
    expect(b.code, b.stdout + b.stderr).toBe(0);
    return b.dir;
  };
  dupDir = await built('klph-dup');
  keysDir = await built('klph-keys');
  const shadow = await corpusModules();
  shadowMod = shadow.ko('livepatch-shadow-mod');
  callbacksTargets = shadow;
});

const dup = () => join(dupDir, 'klph-dup.ko');
const keys = () => join(keysDir, 'klph-keys.ko');
const lp = (name: string) => join(ROOT, 'test/fixtures/hazards/livepatches', `${name}.c`);

describe('hazards', () => {
  it('per-object module missing: obj_names lists a module nothing was built for', async () => {
    const out = await splitBuilt(samples('livepatch-shadow-fix1.c'), (d) => editFile(join(d, 'livepatch-shadow-fix1.c'), '\t"livepatch_shadow_mod",\n', '\t"livepatch_shadow_mod",\n\t"livepatch_other_mod",\n'));
    const r = await verifyCodes(out, [shadowMod]);
    expect(r.code).toBe(1);
    expect(r.codes).toContain('per-object-module-missing');
  });

  it('module name not <patch>__<object>: a per-object module carries another object', async () => {
    const out = await splitBuilt(samples('livepatch-callbacks-demo.c'), (d) =>
      editFile(join(d, 'livepatch-callbacks-demo__livepatch-callbacks-mod.c'), '.name = "livepatch_callbacks_mod",', '.name = "livepatch_callbacks_busymod",'),
    );
    const r = await verifyCodes(out, [callbacksTargets.ko('livepatch-callbacks-mod'), callbacksTargets.ko('livepatch-callbacks-busymod')]);
    expect(r.code).toBe(1);
    expect(r.codes).toContain('per-object-module-name');
  });

  it('object missing from obj_names', async () => {
    const out = await splitBuilt(samples('livepatch-shadow-fix1.c'), (d) => editFile(join(d, 'livepatch-shadow-fix1.c'), '\t"livepatch_shadow_mod",\n', ''));
    const r = await verifyCodes(out, [shadowMod]);
    expect(r.code).toBe(1);
    expect(r.codes).toContain('object-not-in-obj-names');
  });

  it("race (D): per-object modules depending on each other while their targets do not", async () => {
    const out = await splitBuilt(samples('livepatch-callbacks-demo.c'), (d) => {
      editFile(
        join(d, 'livepatch-callbacks-demo__livepatch-callbacks-busymod.c'),
        'static void patched_work_func(struct work_struct *work)\n',
        'int demo_shared_helper(void);\nint demo_shared_helper(void)\n{\n\treturn 1;\n}\nEXPORT_SYMBOL_GPL(demo_shared_helper);\n\nstatic void patched_work_func(struct work_struct *work)\n',
      );
      editFile(
        join(d, 'livepatch-callbacks-demo__livepatch-callbacks-mod.c'),
        'static int pre_patch_callback(struct klp_object *obj)\n{\n',
        'int demo_shared_helper(void);\n\nstatic int pre_patch_callback(struct klp_object *obj)\n{\n\tif (demo_shared_helper() < 0)\n\t\treturn -EINVAL;\n',
      );
    });
    const r = await verifyCodes(out, [callbacksTargets.ko('livepatch-callbacks-mod'), callbacksTargets.ko('livepatch-callbacks-busymod')]);
    expect(r.codes).toContain('per-object-dependency');
    expect(r.stdout).toContain("its target 'livepatch_callbacks_mod' does not depend on 'livepatch_callbacks_busymod'");
  });

  it('unresolved symbol', async () => {
    // --no-klp-relocs: the build's relocation pass would make klph_nowhere a livepatch relocation against the
    // part's target (test/e2e/klp-relocs.test.ts); this case is verify's check of what the loader cannot resolve.
    const r = await verifyCodes(await splitBuilt(lp('klph-unresolved'), undefined, ['--no-klp-relocs']), [keys()]);
    expect(r.codes).toContain('unresolved-symbol');
    expect(r.stdout).toContain("'klph_nowhere' is neither exported by vmlinux nor by a loaded module");
  });

  it('ambiguous sympos, missing sympos, and the right one', async () => {
    expect((await verifyCodes(await splitBuilt(lp('klph-ambiguous')), [dup()])).codes).toContain('sympos-ambiguous');
    expect((await verifyCodes(await splitBuilt(lp('klph-sympos-missing')), [dup()])).codes).toContain('sympos-missing');
    const ok = await verifyCodes(await splitBuilt(lp('klph-sympos-ok')), [dup()]);
    expect(ok.codes).toEqual([]);
    expect(ok.code).toBe(0);
  });

  it('vmlinux old names checked against the real kernel: missing, ambiguous (kallsyms dump)', async () => {
    const missing = await verifyCodes(await splitBuilt(lp('klph-vmlinux-missing')), []);
    expect(missing.codes).toContain('old-name-not-found');
    const ambiguous = await verifyCodes(await splitBuilt(lp('klph-vmlinux-ambiguous')), []);
    expect(ambiguous.codes).toContain('sympos-ambiguous');
    expect(ambiguous.stdout).toContain("'type_show' appears 17 times in 'vmlinux'");
  });

  it("a per-object module using its own target's exports (the unsolved deadlock)", async () => {
    // --no-klp-relocs: the build's relocation pass would remove the cause (test/e2e/klp-relocs.test.ts).
    const r = await verifyCodes(await splitBuilt(lp('klph-deadlock'), undefined, ['--no-klp-relocs']), [keys()]);
    expect(r.codes).toEqual(['target-export-deadlock']);
  });

  it('a static key of the target used by a per-object module', async () => {
    const r = await verifyCodes(await splitBuilt(lp('klph-static-key')), [keys()]);
    expect(r.codes).toContain('target-static-key');
  });

  it('a main module referencing a module symbol: the split refuses it at the line and says where the code belongs', async () => {
    const r = await klpSplit(['split', lp('klph-main-refs'), '--out', scratch('main-refs'), '--target', keys()]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/klph-main-refs\.c:9:1: error: vmlinux's pre_patch callback 'vmlinux_pre' is in the main module and uses 'klph_keys_value' of 'klph_keys' .*only the per-object module 'klph_main_refs__klph_keys' may relocate against 'klph_keys'.*\[main-touches-module\]/);
  });

  it('a stale per-object module still loaded: the guard refuses, the posted guard loops', async () => {
    const out = await splitBuilt(samples('livepatch-shadow-fix1.c'));
    const scenario = join(scratch('scenario'), 'stale.scenario');
    const race = 'modprobe livepatch_shadow_mod\nmodprobe livepatch_shadow_fix1\nrmmod livepatch_shadow_mod\n@race modprobe livepatch_shadow_mod\n';
    writeFileSync(scenario, race);
    const guarded = await klpSplit(['simulate', out, '--target', shadowMod, '--scenario', scenario]);
    expect(guarded.code).toBe(1);
    expect(guarded.stdout).toContain("modprobe: ERROR: could not insert 'livepatch_shadow_mod': Device or resource busy");
    expect(guarded.stdout).toContain('violation [stale-per-object-module]');
    writeFileSync(scenario, `@posted-guard-defect\n${race}`);
    const posted = await klpSplit(['simulate', out, '--target', shadowMod, '--scenario', scenario]);
    expect(posted.code).toBe(1);
    expect(posted.stdout).toContain('violation [modprobe-loop]');
  });
});

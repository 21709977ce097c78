import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtDir } from '../helpers/built-dir.js';
import { removeDir, ROOT, tempDir } from '../helpers/env.js';
import { copyFixture } from '../helpers/fixtures.js';
import { klpSplitInProcess as klpSplit } from '../helpers/in-process.js';
import { livepatchTargets } from '../helpers/livepatch-targets.js';

/**
 * Issue 13's last gaps, on real kbuild builds: `convert` of a livepatch module
 * built from several files, per-object modules built from several files
 * (`<patch>__<obj>-y := ...`), and parts whose code comes from both files.
 * The commands run in-process (helpers/in-process.ts); each build is a shared
 * fixture keyed by the directory it builds (helpers/built-dir.ts).
 */
const FIXTURES = join(ROOT, 'test/fixtures/livepatches');
const MULTI = join(FIXTURES, 'klpr-multi');
const TARGETS = ['klpr_target', 'klpr_alpha', 'klpr_beta', 'klpr_gamma', 'klpr_delta', 'klpr_eps'];

describe('livepatch modules built from several files', () => {
  const root = tempDir('composite');
  let targets: string;
  const ko = (t: string) => join(targets, `${t}.ko`);
  const targetArgs = () => TARGETS.flatMap((t) => ['--target', ko(t)]);
  const copyMulti = (name: string): string => {
    const dir = join(root, name);
    mkdirSync(dir);
    for (const f of readdirSync(MULTI).filter((n) => n === 'Makefile' || /\.[ch]$/.test(n))) cpSync(join(MULTI, f), join(dir, f));
    return dir;
  };

  beforeAll(async () => {
    targets = await livepatchTargets();
  }, 300_000);
  afterAll(() => removeDir(root));

  it('convert rewrites the module in place as one unit, with composite per-object modules in its Makefile; it builds, verifies and converts once', async () => {
    const dir = copyMulti('convert');
    const funcsBefore = readFileSync(join(dir, 'klpr_multi_funcs.c'), 'latin1');
    const c = await klpSplit(['convert', dir]);
    expect(c.code, c.stdout + c.stderr).toBe(0);
    expect(c.stdout).toContain('klpr_multi_main.c: klpr_multi, klpr_multi__klpr_target, klpr_multi__klpr_alpha');
    // The main module keeps only klpr_multi_main.c: all of klpr_multi_funcs.c went to the per-object modules.
    expect(c.stderr).toContain("klpr_multi_funcs.c: note: all its code moved to the per-object modules of 'klpr_multi'; 'klpr-multi' no longer links it, so it can be deleted [composite-file-unused]");
    const makefile = readFileSync(join(dir, 'Makefile'), 'latin1');
    const perObject = TARGETS.map((t) => `obj-m += klpr_multi__${t}.o\nklpr_multi__${t}-y := klpr_multi_main__${t}.o klpr_multi_funcs__${t}.o\n`).join('');
    expect(makefile).toBe(`# SPDX-License-Identifier: GPL-2.0\nobj-m += klpr-multi.o\n${perObject}klpr-multi-y := klpr_multi_main.o\n`);
    const main = readFileSync(join(dir, 'klpr_multi_main.c'), 'latin1');
    expect(main).toContain('\t.obj_names = obj_names,');
    expect(main).not.toContain('target_funcs');
    expect(readFileSync(join(dir, 'klpr_multi_funcs.c'), 'latin1')).toBe(funcsBefore);
    // Each function stays in the file named after its original.
    expect(readFileSync(join(dir, 'klpr_multi_funcs__klpr_eps.c'), 'latin1')).toContain('int new_eps_read(int v)\n{');
    expect(readFileSync(join(dir, 'klpr_multi_funcs__klpr_eps.c'), 'latin1')).not.toContain('klp_add_object');
    expect(readFileSync(join(dir, 'klpr_multi_main__klpr_eps.c'), 'latin1')).toContain('static struct klp_func eps_funcs[] = {');
    expect(readFileSync(join(dir, 'klpr_multi_main__klpr_eps.c'), 'latin1')).toContain('return klp_add_object(&obj);');
    const manifest = JSON.parse(readFileSync(join(dir, 'klpr-multi.klp-split.json'), 'utf8'));
    expect(manifest.parts[0]).toMatchObject({ module: 'klpr_multi', file: 'klpr_multi_main.c', files: ['klpr_multi_main.c'] });
    expect(manifest.parts[1]).toMatchObject({ module: 'klpr_multi__klpr_target', files: ['klpr_multi_main__klpr_target.c', 'klpr_multi_funcs__klpr_target.c'] });

    const b = await builtDir('composite-build', dir, ['--json', '-q']);
    expect(b.code, b.stdout + b.stderr).toBe(0);
    expect(JSON.parse(b.stdout).diagnostics).toEqual([]);
    for (const m of ['klpr-multi', ...TARGETS.map((t) => `klpr_multi__${t}`)]) expect(existsSync(join(b.dir, `${m}.ko`)), m).toBe(true);
    const v = await klpSplit(['verify', b.dir, ...targetArgs(), '--no-explore', '-q']);
    expect(v.stdout).toContain('verify: klpr_multi: OK');
    expect(v.code, v.stdout).toBe(0);

    // Converting the built directory again changes nothing.
    const built = copyFixture(b.dir, join(root, 'convert-built'));
    const again = await klpSplit(['convert', built]);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(again.stdout).toContain('0 livepatches split, 0 files written');
    expect(readFileSync(join(built, 'Makefile'), 'latin1')).toBe(makefile);
  }, 300_000);

  it('a main module drawing on both files is composite too, in split and in convert', async () => {
    const src = copyMulti('main-both');
    // A vmlinux fix whose replacement lives in the second file, as the per-object ones do.
    const mainPath = join(src, 'klpr_multi_main.c');
    writeFileSync(
      mainPath,
      readFileSync(mainPath, 'latin1')
        .replace('static struct klp_func target_funcs[] = {', 'static struct klp_func vmlinux_fix_funcs[] = {\n\t{ .old_name = "cmdline_proc_show", .new_func = new_cmdline_proc_show, },\n\t{ }\n};\n\nstatic struct klp_func target_funcs[] = {')
        .replace('\t{ .name = "klpr_target", .funcs = target_funcs, },', '\t{ .funcs = vmlinux_fix_funcs, },\n\t{ .name = "klpr_target", .funcs = target_funcs, },'),
      'latin1',
    );
    const funcsPath = join(src, 'klpr_multi_funcs.c');
    writeFileSync(funcsPath, `${readFileSync(funcsPath, 'latin1').replace('#include <linux/slab.h>\n', '#include <linux/slab.h>\n#include <linux/seq_file.h>\n')}\nint new_cmdline_proc_show(struct seq_file *m, void *v)\n{\n\tseq_puts(m, "klpr_multi\\n");\n\treturn 0;\n}\n`, 'latin1');
    const hPath = join(src, 'klpr-multi.h');
    writeFileSync(hPath, readFileSync(hPath, 'latin1').replace('int klpr_count_read(void *owner, int v);', 'struct seq_file;\nint new_cmdline_proc_show(struct seq_file *m, void *v);\nint klpr_count_read(void *owner, int v);'), 'latin1');

    const out = join(root, 'main-both-out');
    const s = await klpSplit(['split', mainPath, '--out', out]);
    expect(s.code, s.stdout + s.stderr).toBe(0);
    const manifest = JSON.parse(readFileSync(join(out, 'klp-split.json'), 'utf8'));
    expect(manifest.parts[0]).toMatchObject({ module: 'klpr_multi', file: 'klpr_multi_main.c', files: ['klpr_multi_main.c', 'klpr_multi_funcs.c'] });
    expect(manifest.parts[0].funcs).toEqual([{ oldName: 'cmdline_proc_show', newFunc: 'new_cmdline_proc_show', sympos: 0 }]);
    const mainFuncs = readFileSync(join(out, 'klpr_multi_funcs.c'), 'latin1');
    expect(mainFuncs).toContain('int new_cmdline_proc_show(struct seq_file *m, void *v)');
    expect(mainFuncs).not.toContain('new_eps_read');
    expect(readFileSync(join(out, 'klpr_multi_main.c'), 'latin1')).toContain('static struct klp_func vmlinux_fix_funcs[] = {');
    const b = await builtDir('composite-build', out, ['--json', '-q']);
    expect(b.code, b.stdout + b.stderr).toBe(0);
    expect(JSON.parse(b.stdout).diagnostics).toEqual([]);
    expect(readFileSync(join(b.dir, 'Kbuild'), 'latin1')).toContain('obj-m += klpr_multi.o\nklpr_multi-y := klpr_multi_main.o klpr_multi_funcs.o\n');
    const v = await klpSplit(['verify', b.dir, ...targetArgs(), '--no-explore', '-q']);
    expect(v.code, v.stdout).toBe(0);

    // In place, both originals stay in the main module's composite line, untouched.
    const c = await klpSplit(['convert', src]);
    expect(c.code, c.stdout + c.stderr).toBe(0);
    expect(c.stderr).not.toContain('composite-file-unused');
    expect(readFileSync(join(src, 'Makefile'), 'latin1')).toMatch(/\nklpr-multi-y := klpr_multi_main\.o klpr_multi_funcs\.o\n$/);
    expect(readFileSync(funcsPath, 'latin1')).toBe(mainFuncs);
    const cb = await builtDir('composite-build', src, ['--json', '-q']);
    expect(cb.code, cb.stdout + cb.stderr).toBe(0);
    expect(JSON.parse(cb.stdout).diagnostics).toEqual([]);
    const cv = await klpSplit(['verify', cb.dir, ...targetArgs(), '--no-explore', '-q']);
    expect(cv.code, cv.stdout).toBe(0);
  }, 300_000);
});

import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { splitFile } from '@klp-split/splitter';
import { discoverKernelTree } from '@klp-split/kernel-facts';
import { builtDir } from '../helpers/built-dir.js';
import { removeDir, ROOT, tempDir } from '../helpers/env.js';
import { klpSplitInProcess as klpSplit } from '../helpers/in-process.js';
import { keptPreprocess } from '../helpers/kept-preprocess.js';
import { livepatchTargets } from '../helpers/livepatch-targets.js';

/**
 * `#ifdef` around entries of a klp_object array (issue 13): each object keeps
 * its condition wherever it goes, and the kernel's configuration (kbuild's
 * preprocessor) decides which per-object modules are built. The fixture has
 * klpr_alpha under CONFIG_X86_64 (set here) and klpr_beta under
 * CONFIG_KLPR_NEVER_SET; a copy flips beta's condition to show the same
 * object built. The commands run in-process (helpers/in-process.ts); each
 * build is a shared fixture keyed by the directory it builds
 * (helpers/built-dir.ts).
 */
const FIXTURE = join(ROOT, 'test/fixtures/livepatches/klpr-objifdef/klpr-objifdef.c');

describe('#ifdef around klp_object entries', () => {
  const root = tempDir('objifdef');
  let targets: string;
  const ko = (t: string) => join(targets, `${t}.ko`);

  beforeAll(async () => {
    targets = await livepatchTargets();
  }, 300_000);
  afterAll(() => removeDir(root));

  it('builds the object whose condition holds and not the other; obj_names and the per-object sources keep the conditions', async () => {
    const out = join(root, 'split');
    const s = await klpSplit(['split', FIXTURE, '--out', out]);
    expect(s.code, s.stdout + s.stderr).toBe(0);
    expect(s.stderr).toContain("klpr-objifdef.c:57:2: note: object 'klpr_beta' is under 'defined(CONFIG_KLPR_NEVER_SET)', which this kernel's configuration leaves out");
    const m = JSON.parse(readFileSync(join(out, 'klp-split.json'), 'utf8'));
    expect(m.objNames).toEqual(['klpr_target', 'klpr_alpha']);
    expect(m.parts.map((p: { module: string; condition?: string; compiledOut?: boolean }) => [p.module, p.condition, p.compiledOut])).toEqual([
      ['klpr_objifdef', undefined, undefined],
      ['klpr_objifdef__klpr_target', undefined, undefined],
      ['klpr_objifdef__klpr_alpha', 'defined(CONFIG_X86_64)', undefined],
      ['klpr_objifdef__klpr_beta', 'defined(CONFIG_KLPR_NEVER_SET)', true],
    ]);
    expect(readFileSync(join(out, 'klpr-objifdef.c'), 'latin1')).toContain('\t"klpr_target",\n#ifdef CONFIG_X86_64\n\t"klpr_alpha",\n#endif\n#ifdef CONFIG_KLPR_NEVER_SET\n\t"klpr_beta",\n#endif\n\tNULL\n');
    const beta = readFileSync(join(out, 'klpr-objifdef__klpr-beta.c'), 'latin1');
    // The whole module but its includes and license is under the object's condition, once.
    expect(beta).toMatch(/#include <linux\/livepatch.h>\n\n#ifdef CONFIG_KLPR_NEVER_SET\nstatic int new_beta_read\(int v\)[\s\S]*module_exit\(klpr_objifdef__klpr_beta_exit\);\n#endif\nMODULE_LICENSE\("GPL"\);\n/);
    expect(beta.match(/#ifdef CONFIG_KLPR_NEVER_SET/g)).toHaveLength(1);

    const b = await builtDir('objifdef-build', out, ['--json', '-q']);
    expect(b.code, b.stdout + b.stderr).toBe(0);
    expect(JSON.parse(b.stdout).diagnostics).toEqual([]);
    expect(readFileSync(join(b.dir, 'Kbuild'), 'latin1')).not.toContain('klpr-beta');
    expect(existsSync(join(b.dir, 'klpr-objifdef__klpr-alpha.ko'))).toBe(true);
    expect(existsSync(join(b.dir, 'klpr-objifdef__klpr-beta.ko'))).toBe(false);
    // verify reads obj_names from the built main module: the compiler kept exactly what the manifest says.
    const v = await klpSplit(['verify', b.dir, '--target', ko('klpr_target'), '--target', ko('klpr_alpha'), '-q']);
    expect(v.stdout).toContain('verify: klpr_objifdef: OK');
    expect(v.code, v.stdout).toBe(0);
    const notObject = await klpSplit(['verify', b.dir, '--target', ko('klpr_target'), '--target', ko('klpr_alpha'), '--target', ko('klpr_beta'), '-q']);
    expect(notObject.code).toBe(1);
    expect(notObject.stdout).toContain("--target 'klpr_beta' is not one of the patch's objects (klpr_target, klpr_alpha) [target-not-an-object]");
  }, 300_000);

  it('builds and verifies the same object when its condition holds', async () => {
    const src = join(root, 'flipped');
    mkdirSync(src);
    const file = join(src, 'klpr-objifdef.c');
    writeFileSync(file, readFileSync(FIXTURE, 'latin1').replaceAll('#ifdef CONFIG_KLPR_NEVER_SET', '#ifndef CONFIG_KLPR_NEVER_SET'), 'latin1');
    const out = join(root, 'flipped-out');
    const s = await klpSplit(['split', file, '--out', out]);
    expect(s.code, s.stdout + s.stderr).toBe(0);
    const m = JSON.parse(readFileSync(join(out, 'klp-split.json'), 'utf8'));
    expect(m.objNames).toEqual(['klpr_target', 'klpr_alpha', 'klpr_beta']);
    expect(m.parts[3]).toMatchObject({ module: 'klpr_objifdef__klpr_beta', condition: '!defined(CONFIG_KLPR_NEVER_SET)', funcs: [{ oldName: 'klpr_beta_read', newFunc: 'new_beta_read', sympos: 0 }] });
    expect(m.parts[3].compiledOut).toBeUndefined();
    expect(readFileSync(join(out, 'klpr-objifdef.c'), 'latin1')).toContain('#ifndef CONFIG_KLPR_NEVER_SET\n\t"klpr_beta",\n#endif\n');
    const b = await builtDir('objifdef-build', out, ['--json', '-q']);
    expect(b.code, b.stdout + b.stderr).toBe(0);
    expect(JSON.parse(b.stdout).diagnostics).toEqual([]);
    expect(existsSync(join(b.dir, 'klpr-objifdef__klpr-beta.ko'))).toBe(true);
    const v = await klpSplit(['verify', b.dir, ...['klpr_target', 'klpr_alpha', 'klpr_beta'].flatMap((t) => ['--target', ko(t)]), '-q']);
    expect(v.stdout).toContain('verify: klpr_objifdef: OK');
    expect(v.code, v.stdout).toBe(0);
  }, 300_000);

  it('convert lists every per-object module in the Makefile (one left out builds empty), and the directory builds and verifies', async () => {
    const dir = join(root, 'convert');
    mkdirSync(dir);
    cpSync(FIXTURE, join(dir, 'klpr-objifdef.c'));
    writeFileSync(join(dir, 'Makefile'), 'obj-m += klpr-objifdef.o\n');
    const c = await klpSplit(['convert', dir]);
    expect(c.code, c.stdout + c.stderr).toBe(0);
    // A kernel tree's Makefile serves every configuration: the module's content is under its condition.
    expect(readFileSync(join(dir, 'Makefile'), 'latin1')).toBe('obj-m += klpr-objifdef.o\nobj-m += klpr-objifdef__klpr-target.o\nobj-m += klpr-objifdef__klpr-alpha.o\nobj-m += klpr-objifdef__klpr-beta.o\n');
    expect(JSON.parse(readFileSync(join(dir, 'klpr-objifdef.klp-split.json'), 'utf8')).objNames).toEqual(['klpr_target', 'klpr_alpha']);
    const b = await builtDir('objifdef-build', dir, ['--json', '-q']);
    expect(b.code, b.stdout + b.stderr).toBe(0);
    expect(JSON.parse(b.stdout).diagnostics).toEqual([]);
    const nm = await execa('nm', [join(b.dir, 'klpr-objifdef__klpr-beta.ko')]);
    expect(nm.stdout).not.toMatch(/new_beta_read|klp_add_object/);
    const v = await klpSplit(['verify', b.dir, '--target', ko('klpr_target'), '--target', ko('klpr_alpha'), '-q']);
    expect(v.stdout).toContain('verify: klpr_objifdef: OK');
    expect(v.code, v.stdout).toBe(0);
  }, 300_000);

  it('evaluates an object name built by macros beside conditional entries; one under a condition is refused', () => {
    const dir = join(root, 'macro-names');
    mkdirSync(dir);
    const text = readFileSync(FIXTURE, 'latin1')
      .replace('#include <linux/livepatch.h>\n', '#include <linux/livepatch.h>\n#include <linux/stringify.h>\n\n#define KLPR_TARGET klpr_target\n')
      .replace('\t\t.name = "klpr_target",', '\t\t.name = __stringify(KLPR_TARGET),');
    const tree = discoverKernelTree();
    const preprocess = keptPreprocess(tree);
    writeFileSync(join(dir, 'klpr-objifdef.c'), text, 'latin1');
    const r = splitFile(join(dir, 'klpr-objifdef.c'), { displayName: 'klpr-objifdef.c', preprocess });
    expect(r.kind).toBe('split');
    expect(r.manifest!.objNames).toEqual(['klpr_target', 'klpr_alpha']);
    expect(r.diagnostics.map((d) => d.code)).toEqual(['name-from-compiler', 'object-compiled-out']);
    writeFileSync(join(dir, 'klpr-bad.c'), text.replace('\t\t.name = "klpr_alpha",', '\t\t.name = __stringify(klpr_alpha),'), 'latin1');
    const bad = splitFile(join(dir, 'klpr-bad.c'), { displayName: 'klpr-bad.c', preprocess });
    expect(bad.kind).toBe('invalid');
    expect(bad.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.line}:${d.code}`)).toEqual(['55:unsupported-object-name']);
  });

  it('refuses without a compiler, and refuses a condition on the vmlinux entry', () => {
    const bare = splitFile(FIXTURE, { displayName: 'klpr-objifdef.c' });
    expect(bare.kind).toBe('invalid');
    expect(bare.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.line}:${d.code}`)).toEqual(['51:needs-compiler']);
    expect(bare.diagnostics[0]!.message).toContain('--kdir');

    const dir = join(root, 'vmlinux-cond');
    mkdirSync(dir);
    const file = join(dir, 'klpr-objifdef.c');
    const text = readFileSync(FIXTURE, 'latin1').replace('static struct klp_object objs[] = {\n', 'static struct klp_object objs[] = {\n#ifdef CONFIG_X86_64\n\t{\n\t\t.funcs = target_funcs,\n\t},\n#endif\n');
    writeFileSync(file, text, 'latin1');
    const tree = discoverKernelTree();
    const r = splitFile(file, { displayName: 'klpr-objifdef.c', preprocess: keptPreprocess(tree) });
    expect(r.kind).toBe('invalid');
    expect(r.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.line}:${d.code}`)).toEqual(['47:conditional-vmlinux-object']);

    // One object in both branches would be two modules of one name.
    const twice = join(dir, 'klpr-twice.c');
    writeFileSync(twice, readFileSync(FIXTURE, 'latin1').replace('#ifdef CONFIG_KLPR_NEVER_SET\n\t{\n\t\t.name = "klpr_beta",', '#else\n\t{\n\t\t.name = "klpr_alpha",\n\t\t.funcs = target_funcs,\n\t},\n#endif\n#ifdef CONFIG_KLPR_NEVER_SET\n\t{\n\t\t.name = "klpr_beta",').replace('\t},\n#endif\n#else', '\t},\n#else'), 'latin1');
    const d = splitFile(twice, { displayName: 'klpr-twice.c', preprocess: keptPreprocess(tree) });
    expect(d.kind).toBe('invalid');
    const dup = d.diagnostics.filter((x) => x.severity === 'error');
    expect(dup.map((x) => x.code)).toEqual(['duplicate-object']);
    expect(dup[0]!.message).toContain("object 'klpr_alpha' appears twice in the klp_object array (first at line 51); one object is one module");
  });
});

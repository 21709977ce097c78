import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readElf } from '@klp-split/kernel-facts';
import { applyRelocEdit } from '../differential/reloc-edit.js';
import { builtDir, type BuiltDir } from '../helpers/built-dir.js';
import { removeDir, ROOT, tempDir } from '../helpers/env.js';
import { copyFixture } from '../helpers/fixtures.js';
import { klpSplitInProcess as klpSplit } from '../helpers/in-process.js';
import { klprModBuilt } from '../helpers/livepatch-targets.js';

/**
 * Issue 12: livepatch relocations written by `klp-split build`, on real
 * modules built with kbuild: a split whose per-object part calls its
 * target's static function and export (the self-export deadlock's cause
 * removed), a classic livepatch built as is, and bad input. Each build is a
 * shared fixture keyed by the directory it builds and the files its
 * arguments name (helpers/built-dir.ts); the commands run in-process
 * (helpers/in-process.ts).
 */
const FIXTURES = join(ROOT, 'test/fixtures/klp-relocs');
const dirs: string[] = [];
afterAll(() => dirs.forEach(removeDir));
const scratch = (name: string): string => {
  const d = tempDir(name);
  dirs.push(d);
  return d;
};

let targetKo: string;
let split: string;
let splitBuild: BuiltDir;

async function readelf(args: string[]): Promise<{ stdout: string; stderr: string }> {
  const r = await execa('readelf', args, { reject: false, env: { LC_ALL: 'C' } });
  return { stdout: String(r.stdout), stderr: String(r.stderr) };
}

async function modinfoDepends(ko: string): Promise<string> {
  return String((await execa('modinfo', ['-F', 'depends', ko])).stdout).trim();
}

beforeAll(async () => {
  targetKo = join(await klprModBuilt(), 'klpr-mod.ko');
  const out = scratch('klpr-split');
  expect((await klpSplit(['split', join(FIXTURES, 'livepatches/klpr-fix.c'), '--out', out])).code).toBe(0);
  splitBuild = await builtDir('klp-relocs-build', out, ['--target', targetKo]);
  split = splitBuild.dir;
});

describe('split mode', () => {
  const part = () => join(split, 'klpr-fix__klpr-mod.ko');
  const main = () => join(split, 'klpr-fix.ko');

  it('builds without modpost errors and says what it converted', () => {
    expect(splitBuild.code, splitBuild.stderr).toBe(0);
    expect(splitBuild.stderr).not.toContain('undefined!');
    expect(splitBuild.stdout).toContain('relocs klpr_fix__klpr_mod: 3 symbols to livepatch relocations');
    expect(splitBuild.stdout).toContain('klpr_mod_value -> .klp.sym.klpr_mod.klpr_mod_value,0');
    expect(splitBuild.stdout).toContain('relocs klpr_fix: 2 symbols to livepatch relocations');
  });

  it("the part has .klp.rela.<target>.* and .klp.sym.<target>.*, and no longer depends on its target", async () => {
    const sections = await readelf(['-S', '-W', part()]);
    expect(sections.stdout).toMatch(/\.klp\.rela\.klpr_mod\.text\s+RELA\s.*\sAIo\s/);
    const syms = await readelf(['-s', '-W', part()]);
    for (const s of ['klpr_mod_scale', 'klpr_mod_value', 'klpr_mod_base']) expect(syms.stdout).toMatch(new RegExp(`GLOBAL\\s+DEFAULT\\s+OS \\[0xff20\\] \\.klp\\.sym\\.klpr_mod\\.${s},0$`, 'm'));
    expect(await modinfoDepends(part())).toBe('');
    const all = await readelf(['-a', '-W', part()]);
    expect(all.stderr).toBe('');
    expect(all.stdout).not.toMatch(/warning/i);
    // The main part reaches vmlinux's static symbols through .klp.rela.vmlinux.
    expect((await readelf(['-S', '-W', main()])).stdout).toContain('.klp.rela.vmlinux.text');
  });

  it('verify passes: no self-export deadlock, the relocations resolve when the part loads', async () => {
    const r = await klpSplit(['verify', split, '--target', targetKo, '--format', 'json']);
    const report = JSON.parse(r.stdout);
    expect(report.diagnostics.filter((d: { severity: string }) => d.severity === 'error')).toEqual([]);
    expect(r.stdout).not.toContain('target-export-deadlock');
    expect(r.code).toBe(0);
  });

  it("verify re-checks the built part: a livepatch relocation moved into an init section is reported at the symbol's C line", async () => {
    const broken = scratch('klpr-init');
    cpSync(split, broken, { recursive: true });
    const ko = join(broken, 'klpr-fix__klpr-mod.ko');
    const init = readElf(readFileSync(ko), ko).sections.find((s) => s.name.startsWith('.init'))!.name;
    applyRelocEdit(ko, { kind: 'section-info', section: '.klp.rela.klpr_mod.text', info: init });
    const r = await klpSplit(['verify', broken, '--target', targetKo, '--format', 'json']);
    const found = JSON.parse(r.stdout).diagnostics.filter((d: { code: string }) => d.code === 'klp-reloc-in-init');
    // One per symbol, at a line of the author's source that names it.
    const source = readFileSync(join(FIXTURES, 'livepatches/klpr-fix.c'), 'utf8').split('\n');
    const at = found.map((d: { file: string; line: number; message: string }) => {
      const sym = /'(\w+)'/.exec(d.message)![1]!;
      return [d.file.split('/').pop(), sym, source[d.line - 1]?.includes(sym)];
    });
    expect(at.sort()).toEqual(['klpr_mod_base', 'klpr_mod_scale', 'klpr_mod_value'].map((sym) => ['klpr-fix.c', sym, true]));
    expect(r.code).not.toBe(0);
  });

  it('relocs lists them in livepatch terms; the build record keeps them', async () => {
    const r = await klpSplit(['relocs', part()]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^OBJECT\s+SYM-OBJECT\s+SYMBOL\s+SYMPOS\s+SECTION\+OFFSET\s+TYPE$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/).slice(0, 4).join(' ')).sort()).toEqual(['klpr_mod klpr_mod klpr_mod_base 0', 'klpr_mod klpr_mod klpr_mod_scale 0', 'klpr_mod klpr_mod klpr_mod_value 0']);
    const record = JSON.parse(readFileSync(join(split, '.klp-split/build.json'), 'utf8'));
    const partRecord = record.relocations.find((x: { module: string }) => x.module === 'klpr_fix__klpr_mod');
    expect(partRecord.sections).toEqual({ '.klp.rela.klpr_mod.text': 3 });
  });

  it('without the pass the same part has the deadlock verify reports', async () => {
    const out = scratch('klpr-plain');
    expect((await klpSplit(['split', join(FIXTURES, 'livepatches/klpr-fix.c'), '--out', out])).code).toBe(0);
    const b = await builtDir('klp-relocs-build', out, ['--no-klp-relocs', '--config', 'KBUILD_MODPOST_WARN=1', '--symbols', join(targetKo, '../Module.symvers')]);
    expect(b.code, b.stderr).toBe(0);
    // relocs --write below changes the module: a copy of the kept build.
    const plain = copyFixture(b.dir, join(scratch('klpr-plain-built'), 'd'));
    expect(await modinfoDepends(join(plain, 'klpr-fix__klpr-mod.ko'))).toBe('klpr-mod');
    const r = await klpSplit(['verify', plain, '--target', targetKo]);
    expect(r.stdout + r.stderr).toContain('target-export-deadlock');
    // relocs --write converts the module built elsewhere; then the deadlock is gone.
    const w = await klpSplit(['relocs', '--write', join(plain, 'klpr-fix__klpr-mod.ko'), '--target', targetKo]);
    expect(w.code, w.stderr).toBe(0);
    expect(w.stdout).toContain('3 symbol(s), 3 relocation(s) converted');
    expect(await modinfoDepends(join(plain, 'klpr-fix__klpr-mod.ko'))).toBe('');
    const again = await klpSplit(['verify', plain, '--target', targetKo]);
    expect(again.stdout + again.stderr).not.toContain('target-export-deadlock');
  });
});

describe('classic livepatch directory', () => {
  let dir: string;
  let b: BuiltDir;
  beforeAll(async () => {
    const src = scratch('klpr-classic');
    cpSync(join(FIXTURES, 'livepatches/klpr-fix.c'), join(src, 'klpr-fix.c'));
    b = await builtDir('klp-relocs-build', src, ['--target', targetKo, '--symbols', join(targetKo, '../Module.symvers')]);
    dir = b.dir;
  });

  it("is converted per object, its target's export included (it may load before the target)", async () => {
    expect(b.code, b.stderr).toBe(0);
    expect(b.stdout).toContain('relocs klpr_fix: 5 symbols to livepatch relocations');
    const r = await klpSplit(['relocs', join(dir, 'klpr-fix.ko'), '--json']);
    const listed = JSON.parse(r.stdout) as { lpObject: string; object: string; symbol: string }[];
    expect([...new Set(listed.map((l) => `${l.lpObject}/${l.object}/${l.symbol}`))].sort()).toEqual([
      'klpr_mod/klpr_mod/klpr_mod_base',
      'klpr_mod/klpr_mod/klpr_mod_scale',
      'klpr_mod/klpr_mod/klpr_mod_value',
      'vmlinux/vmlinux/max_threads',
      'vmlinux/vmlinux/version_proc_show',
    ]);
    expect(await modinfoDepends(join(dir, 'klpr-fix.ko'))).toBe('');
  });

  it("simulates the stock kernel: module relocations applied when the target comes, refused when it comes again (as Debian's 6.1 does)", async () => {
    const scenario = join(scratch('klpr-scenario'), 'reload.scenario');
    writeFileSync(scenario, 'insmod klpr_fix\ninsmod klpr_mod\nrmmod klpr_mod\ninsmod klpr_mod\n');
    const r = await klpSplit(['simulate', '--upstream', '--module', join(dir, 'klpr-fix.ko'), '--module', targetKo, '--scenario', scenario]);
    const lines = r.stdout.split('\n');
    const at = (cmd: string, nth = 1) => lines.map((l, i) => [l, i] as const).filter(([l]) => l === cmd)[nth - 1]![1];
    // The livepatch loads before its target: only .klp.rela.vmlinux.* is applied then.
    expect(lines.slice(at('% insmod klpr_fix'), at('% insmod klpr_mod'))).toContain("livepatch: 'klpr_fix': patching complete");
    expect(lines.slice(at('% insmod klpr_mod'), at('% rmmod klpr_mod'))).toEqual(['% insmod klpr_mod', "livepatch: applying patch 'klpr_fix' to loading module 'klpr_mod'"]);
    const reload = lines.slice(at('% insmod klpr_mod', 2));
    expect(reload[1]).toMatch(/^module: x86\/modules: Skipping invalid relocation target, existing value is nonzero for type 4, loc \(____ptrval____\), val [0-9a-f]+$/);
    expect(reload.slice(2, 4)).toEqual(["livepatch: failed to initialize patch 'klpr_fix' for module 'klpr_mod' (-8)", "livepatch: patch 'klpr_fix' failed for module 'klpr_mod', refusing to load module 'klpr_mod'"]);
  });
});

describe('bad input: a diagnostic at the C line, nothing written', () => {
  async function attempt(edit: (t: string) => string) {
    const src = scratch('klpr-bad');
    const text = edit(readFileSync(join(FIXTURES, 'livepatches/klpr-fix.c'), 'latin1'));
    writeFileSync(join(src, 'klpr-fix.c'), text, 'latin1');
    const b = await builtDir('klp-relocs-bad', src, ['--target', targetKo]);
    const sections = await readelf(['-S', '-W', join(b.dir, 'klpr-fix.ko')]);
    return { b, lines: text.split('\n'), sections: sections.stdout };
  }
  const at = (stderr: string, code: string): { line: number; message: string } => {
    const m = new RegExp(`^klpr-fix\\.c:(\\d+):\\d+: error: (.*) \\[${code}\\]$`, 'm').exec(stderr);
    expect(m, stderr).not.toBeNull();
    return { line: Number(m![1]), message: m![2]! };
  };

  it('a symbol in no object', async () => {
    const { b, lines, sections } = await attempt((t) => t.replace('extern int max_threads;', 'extern int klpr_nowhere;').replace('max_threads);', 'klpr_nowhere);'));
    expect(b.code).toBe(1);
    const d = at(b.stderr, 'klp-symbol-not-found');
    expect(lines[d.line - 1]).toBe('extern int klpr_nowhere;');
    expect(d.message).toContain("'klpr_nowhere' is in no object");
    expect(sections).not.toContain('.klp.rela');
  });

  it('an annotation naming an object the patch does not fix', async () => {
    const { b, lines, sections } = await attempt((t) => t.replace('extern int max_threads;', 'extern int max_threads KLP_RELOC_SYMBOL(other_mod, other_mod, max_threads);'));
    expect(b.code).toBe(1);
    const d = at(b.stderr, 'klp-annotation-object');
    expect(lines[d.line - 1]).toContain('KLP_RELOC_SYMBOL(other_mod, other_mod, max_threads)');
    expect(d.message).toContain("names 'other_mod' for 'max_threads', an object this patch does not fix (it fixes 'vmlinux', 'klpr_mod')");
    expect(sections).not.toContain('.klp.rela');
  });

  it('an annotation whose object is neither vmlinux, an object of the patch nor a --target (issue 20: built with exit 0, could not load)', async () => {
    const { b, lines, sections } = await attempt((t) => t.replace('extern int max_threads;', 'extern int max_threads KLP_RELOC_SYMBOL(vmlinux, vm.linux, max_threads);'));
    expect(b.code, b.stderr).toBe(1);
    const d = at(b.stderr, 'klp-annotation-unknown-object');
    // The compiler sees object 'vm' and symbol 'linux.max_threads', with gcc's predefined macro linux (1) expanded.
    expect(lines[d.line - 1]).toContain('KLP_RELOC_SYMBOL(vmlinux, vm.linux, max_threads)');
    expect(d.message).toContain("names object 'vm' for '1.max_threads', which is neither vmlinux, an object this patch fixes ('vmlinux', 'klpr_mod') nor a module given with --target");
    expect(d.message).toContain("an object name cannot contain '.'");
    expect(sections).not.toContain('.klp.rela');
  });

  it("KLP_SYMPOS naming a static variable of the module itself is named in the message (issue 20: it said 'KLP_SYMPOS(, ...)')", async () => {
    const { b, lines } = await attempt((t) =>
      t.replace('extern int klpr_mod_base;', 'extern int klpr_mod_base;\nstatic int klpr_local_counter;\nKLP_MODULE_RELOC(klpr_mod) klpr_relocs[] = {\n\tKLP_SYMPOS(klpr_local_counter, 1),\n};'),
    );
    expect(b.code, b.stderr).toBe(1);
    const d = at(b.stderr, 'klp-annotation-defined-symbol');
    expect(d.message).toBe('KLP_SYMPOS(klpr_local_counter, ...) names a symbol this module defines; only undefined symbols are resolved by the livepatch core');
    expect(lines[d.line - 1]).toContain('KLP_SYMPOS(klpr_local_counter, 1)');
  });

  it('a position out of range', async () => {
    const { b, lines, sections } = await attempt((t) => t.replace('extern int max_threads;', 'extern int max_threads KLP_RELOC_SYMBOL_POS(vmlinux, vmlinux, max_threads, 2);'));
    expect(b.code).toBe(1);
    const d = at(b.stderr, 'klp-sympos-out-of-range');
    expect(lines[d.line - 1]).toContain('KLP_RELOC_SYMBOL_POS(vmlinux, vmlinux, max_threads, 2)');
    expect(d.message).toBe("position 2 of 'max_threads' in 'vmlinux' does not exist: the name occurs 1 time there");
    expect(sections).not.toContain('.klp.rela');
  });
});

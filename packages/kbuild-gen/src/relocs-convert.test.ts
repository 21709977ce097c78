import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureCacheDir } from '@klp-split/core';
import { discoverKernelTree, defaultKallsymsFile, elfConstants as C, readElf, readModinfo, readVersions, type ElfFile } from '@klp-split/kernel-facts';
import { loadFacts, listLivepatchRelocations, rewriteModuleFile, SHF_INFO_LINK, SourceIndex } from '@klp-split/klp-relocs';
import { sharedFixture } from '../../../test/helpers/fixtures.js';
import { runKbuild } from './build.js';
import { kbuildText } from './kbuild-file.js';
import { prepareAnnotationsOverlay } from './overlay.js';

/**
 * The rewrite on real modules built here with kbuild against Debian's 6.1
 * headers: a target module, a classic livepatch of vmlinux and the target,
 * and a per-object part of a split. Each kbuild run is a shared fixture
 * keyed by the files it compiles (test/helpers/fixtures.ts): the rewrite,
 * this suite's subject, runs on a fresh copy of the built module each time.
 */
const FIXTURES = join(import.meta.dirname, 'relocs-fixtures');
const scratch: string[] = [];
afterAll(() => scratch.forEach((d) => rmSync(d, { recursive: true, force: true })));
function tempDir(name: string): string {
  const d = mkdtempSync(join(tmpdir(), `klp-relocs-${name}-`));
  scratch.push(d);
  return d;
}

const tree = discoverKernelTree();
const kallsyms = defaultKallsymsFile(tree.release);
let targetDir: string;
let targetKo: string;

/** `object` built by kbuild from the sources in `dir`, which receives what the build made; returns the .ko. */
async function build(dir: string, object: string, extraSymbols: string[] = []): Promise<string> {
  const sources = readdirSync(dir).sort().map((f) => `source ${f}\0${readFileSync(join(dir, f), 'latin1')}`);
  const facts = [`object ${object}`, 'jobs 2, annotations overlay, KBUILD_MODPOST_WARN=1', ...sources, ...extraSymbols.map((f) => `symbols ${readFileSync(f, 'latin1')}`)];
  const kept = await sharedFixture('relocs-convert', { facts }, async (d) => {
    cpSync(dir, d, { recursive: true });
    writeFileSync(join(d, 'Kbuild'), kbuildText([{ object }], 'klp-relocs test'));
    const r = await runKbuild(d, tree, prepareAnnotationsOverlay(ensureCacheDir()), [{ object }], { jobs: 2, extraSymbols, makeVars: { KBUILD_MODPOST_WARN: '1' } });
    if (!r.ok) throw new Error(r.output);
  });
  cpSync(kept, dir, { recursive: true, filter: (f) => !f.endsWith('/.complete') });
  return join(dir, object.replace(/\.o$/, '.ko'));
}

/** A livepatch source from a fixture, edited, built in a fresh directory. */
async function buildLivepatch(fixture: string, as: string, edit: (text: string) => string = (t) => t): Promise<string> {
  const dir = tempDir(as);
  writeFileSync(join(dir, `${as}.c`), edit(readFileSync(join(FIXTURES, fixture), 'latin1')), 'latin1');
  return build(dir, `${as}.o`, [join(targetDir, 'Module.symvers')]);
}

function facts() {
  return loadFacts({ symvers: [tree.symvers], targets: [targetKo], kallsyms });
}

async function readelf(ko: string): Promise<{ stdout: string; stderr: string }> {
  const r = await execa('readelf', ['-a', '-W', ko], { reject: false, env: { LC_ALL: 'C' } });
  return { stdout: String(r.stdout), stderr: String(r.stderr) };
}

function section(elf: ElfFile, name: string) {
  return elf.sections.find((s) => s.name === name);
}

beforeAll(async () => {
  expect(kallsyms, 'the kallsyms dump (bash scripts/qemu-kernel.sh kallsyms)').toBeDefined();
  targetDir = tempDir('target');
  cpSync(join(FIXTURES, 'klpr_target.c'), join(targetDir, 'klpr_target.c'));
  targetKo = await build(targetDir, 'klpr_target.o');
});

describe('classic livepatch', () => {
  let ko: string;
  let before: ElfFile;
  let after: ElfFile;
  let outcome: ReturnType<typeof rewriteModuleFile>;

  beforeAll(async () => {
    ko = await buildLivepatch('klpr_classic.c', 'klpr_classic');
    before = readElf(readFileSync(ko), ko);
    outcome = rewriteModuleFile(ko, { objects: ['klpr_target'], facts: facts(), sources: SourceIndex.ofDirectory(join(ko, '..')) });
    after = readElf(readFileSync(ko), ko);
  });

  it('converts every non-exported reference to its object, with the kernel flags and links', () => {
    expect(outcome.diagnostics).toEqual([]);
    expect(outcome.written).toBe(true);
    const byName = Object.fromEntries(outcome.symbols.map((s) => [s.klpName, s.object]));
    expect(byName).toEqual({
      '.klp.sym.vmlinux.version_proc_show,0': 'vmlinux',
      '.klp.sym.vmlinux.max_threads,0': 'vmlinux',
      '.klp.sym.vmlinux.console_show,2': 'vmlinux',
      '.klp.sym.klpr_target.klpr_target_static,0': 'klpr_target',
      '.klp.sym.klpr_target.klpr_base,0': 'klpr_target',
    });
    const vm = section(after, '.klp.rela.vmlinux.text')!;
    const mod = section(after, '.klp.rela.klpr_target.text')!;
    for (const s of [vm, mod]) {
      expect(s.type).toBe(C.SHT_RELA);
      expect(s.flags).toBe(C.SHF_ALLOC | SHF_INFO_LINK | C.SHF_RELA_LIVEPATCH);
      expect(after.sections[s.link]!.type).toBe(C.SHT_SYMTAB);
      expect(after.sections[s.info]!.name).toBe('.text');
    }
    for (const s of outcome.symbols) {
      const sym = after.symbols.find((x) => x.name === s.klpName)!;
      expect(sym.shndx).toBe(C.SHN_LIVEPATCH);
      expect(sym.bind).toBe(C.STB_GLOBAL);
    }
  });

  it('keeps every symbol index and takes the entries out of the normal sections', () => {
    expect(after.symbols.length).toBe(before.symbols.length);
    after.symbols.forEach((s, i) => {
      expect(s.index).toBe(i);
      if (!s.name.startsWith('.klp.sym.')) expect(s.name).toBe(before.symbols[i]!.name);
    });
    const moved = new Set(outcome.symbols.map((s) => after.symbols.find((x) => x.name === s.klpName)!.index));
    const text = after.relocations.find((r) => r.section.name === '.rela.text')!;
    expect(text.relocs.some((r) => moved.has(r.symIndex))).toBe(false);
    const total = (e: ElfFile) => e.relocations.filter((r) => r.target.flags & C.SHF_ALLOC).reduce((n, r) => n + r.relocs.length, 0);
    expect(total(after)).toBe(total(before));
  });

  it('readelf -a -W prints no warning and the reader round-trips it', async () => {
    const r = await readelf(ko);
    expect(r.stderr).toBe('');
    expect(r.stdout).not.toMatch(/warning/i);
    expect(r.stdout).toMatch(/\.klp\.rela\.vmlinux\.text\s+RELA\s.*\bAIo\b/);
    expect(r.stdout).toContain('.klp.sym.vmlinux.console_show,2');
    expect(readElf(readFileSync(ko), ko).relocations.length).toBe(after.relocations.length);
  });

  it('lists the relocations in livepatch terms, none refused', () => {
    const listed = listLivepatchRelocations(after);
    expect(listed.filter((l) => l.problem)).toEqual([]);
    expect(listed.find((l) => l.symbol === 'console_show')).toMatchObject({ lpObject: 'vmlinux', object: 'vmlinux', sympos: 2, section: '.text', type: 'R_X86_64_PC32' });
    expect(listed.find((l) => l.symbol === 'klpr_target_static')).toMatchObject({ lpObject: 'klpr_target', object: 'klpr_target', sympos: 0, type: 'R_X86_64_PLT32' });
  });

  it('a second rewrite finds nothing left to convert', () => {
    const again = rewriteModuleFile(ko, { objects: ['klpr_target'], facts: facts(), sources: SourceIndex.ofDirectory(join(ko, '..')) });
    expect(again.written).toBe(false);
    expect(again.diagnostics).toEqual([]);
  });
});

describe("klp-convert's KLP_MODULE_RELOC form", () => {
  it('gives the object and position; the annotation section is neither loaded nor relocated afterwards', async () => {
    const ko = await buildLivepatch('klpr_classic.c', 'klpr_classic', (t) =>
      t.replace('extern int max_threads;', 'extern int max_threads;\nKLP_MODULE_RELOC(vmlinux) klpr_relocs[] = {\n\tKLP_SYMPOS(max_threads, 1),\n};'),
    );
    const outcome = rewriteModuleFile(ko, { objects: ['klpr_target'], facts: facts(), sources: SourceIndex.ofDirectory(join(ko, '..')) });
    expect(outcome.diagnostics).toEqual([]);
    expect(outcome.symbols.map((s) => s.klpName)).toContain('.klp.sym.vmlinux.max_threads,1');
    const after = readElf(readFileSync(ko), ko);
    const data = section(after, '.klp.module_relocs.vmlinux')!;
    expect(data.flags & C.SHF_ALLOC).toBe(0);
    expect(after.relocations.find((r) => r.target.index === data.index)?.relocs ?? []).toEqual([]);
    expect(listLivepatchRelocations(after).filter((l) => l.symbol === 'max_threads').every((l) => l.sympos === 1 && l.section === '.text')).toBe(true);
    const r = await readelf(ko);
    expect(r.stderr).toBe('');
    expect(r.stdout).not.toMatch(/warning/i);
  });
});

describe('per-object part', () => {
  it("makes its own target's static function and export livepatch relocations; __versions and depends follow", async () => {
    const ko = await buildLivepatch('klpr_part.c', 'klpr_fix__klpr_target');
    const before = readElf(readFileSync(ko), ko);
    expect(readModinfo(before).get('depends')).toEqual(['klpr_target']);
    expect(readVersions(before).map((v) => v.name)).toContain('klpr_target_export');
    const outcome = rewriteModuleFile(ko, { facts: facts(), sources: SourceIndex.ofDirectory(join(ko, '..')) });
    expect(outcome.role).toEqual({ kind: 'part', target: 'klpr_target' });
    expect(outcome.diagnostics).toEqual([]);
    expect(outcome.symbols.map((s) => s.klpName).sort()).toEqual(['.klp.sym.klpr_target.klpr_target_export,0', '.klp.sym.klpr_target.klpr_target_static,0']);
    const after = readElf(readFileSync(ko), ko);
    expect(readModinfo(after).get('depends')).toEqual(['']);
    expect(readVersions(after).map((v) => v.name)).not.toContain('klpr_target_export');
    // jiffies is a vmlinux export: a normal relocation, still versioned.
    expect(readVersions(after).map((v) => v.name)).toContain('jiffies');
    expect(after.symbols.find((s) => s.name === 'jiffies')!.shndx).toBe(C.SHN_UNDEF);
    expect((await readelf(ko)).stderr).toBe('');
  });
});

describe('bad input: a diagnostic at the C line, nothing written', () => {
  async function attempt(edit: (t: string) => string) {
    const ko = await buildLivepatch('klpr_classic.c', 'klpr_classic', edit);
    const bytes = readFileSync(ko);
    const outcome = rewriteModuleFile(ko, { objects: ['klpr_target'], facts: facts(), sources: SourceIndex.ofDirectory(join(ko, '..')) });
    expect(outcome.written).toBe(false);
    expect(readFileSync(ko).equals(bytes)).toBe(true);
    const text = readFileSync(join(ko, '..', 'klpr_classic.c'), 'latin1').split('\n');
    return { outcome, text };
  }

  it('a symbol in no object', async () => {
    const { outcome, text } = await attempt((t) => t.replace('extern int max_threads;', 'extern int klpr_no_such_symbol;').replace('max_threads, console', 'klpr_no_such_symbol, console'));
    const d = outcome.diagnostics.find((x) => x.code === 'klp-symbol-not-found')!;
    expect(d.message).toContain("'klpr_no_such_symbol' is in no object");
    expect(text[d.line - 1]).toBe('extern int klpr_no_such_symbol;');
  });

  it('a position out of range', async () => {
    const { outcome, text } = await attempt((t) => t.replace('console_show, 2)', 'console_show, 5)'));
    const d = outcome.diagnostics.find((x) => x.code === 'klp-sympos-out-of-range')!;
    expect(d.message).toBe("position 5 of 'console_show' in 'vmlinux' does not exist: the name occurs 2 times there");
    expect(text[d.line - 1]).toContain('KLP_RELOC_SYMBOL_POS(vmlinux, vmlinux, console_show, 5)');
  });

  it('an annotation naming an object the patch does not fix', async () => {
    const { outcome, text } = await attempt((t) => t.replace('KLP_RELOC_SYMBOL_POS(vmlinux, vmlinux, console_show, 2)', 'KLP_RELOC_SYMBOL_POS(other_mod, other_mod, console_show, 2)'));
    const d = outcome.diagnostics.find((x) => x.code === 'klp-annotation-object')!;
    expect(d.message).toContain("names 'other_mod' for 'console_show', an object this patch does not fix");
    expect(text[d.line - 1]).toContain('KLP_RELOC_SYMBOL_POS(other_mod');
  });

  it('an ambiguous name without annotation lists the candidates; a compiler-renamed one is named as such', async () => {
    const { outcome } = await attempt((t) =>
      t
        .replace('extern int console_show_attr KLP_RELOC_SYMBOL_POS(vmlinux, vmlinux, console_show, 2);', 'extern int console_show;\nvoid set_bringup_idt_handler(void);')
        .replace('console_show_attr, &console_show_attr);', 'console_show, &set_bringup_idt_handler);'),
    );
    const codes = Object.fromEntries(outcome.diagnostics.map((d) => [d.code, d.message]));
    expect(codes['klp-symbol-ambiguous']).toContain("'console_show' occurs 2 times in 'vmlinux'");
    expect(codes['klp-symbol-ambiguous']).toContain('(vmlinux, 1), (vmlinux, 2)');
    expect(codes['klp-symbol-suffixed']).toContain("'set_bringup_idt_handler.constprop.0'");
  });

  it('a vmlinux symbol in a module section, and a reference from .init, are refused', async () => {
    const { outcome } = await attempt((t) =>
      t
        .replace('KLP_RELOC_SYMBOL_POS(vmlinux, vmlinux, console_show, 2)', 'KLP_RELOC_SYMBOL_POS(klpr_target, vmlinux, console_show, 2)')
        .replace('static int livepatch_init(void)', 'static int __init livepatch_init(void)')
        .replace('return klp_enable_patch(&patch);', 'return klp_enable_patch(&patch) + max_threads;'),
    );
    const codes = outcome.diagnostics.map((d) => d.code);
    expect(codes).toContain('klp-vmlinux-sym-in-module-section');
    expect(codes).toContain('klp-reloc-in-init');
  });
});

import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { elfConstants as C, readElf } from '@klp-split/kernel-facts';
import { applyRelocEdit, type RelocEdit } from '../differential/reloc-edit.js';
import { builtDir } from '../helpers/built-dir.js';
import { removeDir, ROOT, tempDir } from '../helpers/env.js';
import { klpSplitInProcess as klpSplit } from '../helpers/in-process.js';
import { klprModBuilt } from '../helpers/livepatch-targets.js';

/**
 * Issue 20: module fields the kernel refuses, or writes past a section
 * with, in a real split (test/fixtures/klp-relocs: the per-object module
 * reaches its target's static symbols through `.klp.rela.klpr_mod.text`),
 * built with kbuild and then damaged one field at a time. verify must
 * report each (exit 1) in the kernel's words where the kernel has any, and
 * `simulate` must refuse the same module the same way: no "OK" for a module
 * the kernel would refuse or corrupt. The target's and the split's builds
 * are the shared fixtures klp-relocs.test.ts builds too (helpers/built-dir.ts);
 * the commands run in-process (helpers/in-process.ts).
 */
const FIXTURES = join(ROOT, 'test/fixtures/klp-relocs');
const PART = 'klpr-fix__klpr-mod.ko';
const PART_MODULE = 'klpr_fix__klpr_mod';

let root: string;
let built: string;
let targetKo: string;
let scenario: string;
let copies = 0;

beforeAll(async () => {
  root = tempDir('verify-elf-fields');
  targetKo = join(await klprModBuilt(), 'klpr-mod.ko');
  // Split into a directory of its own under the temporary directory, as klp-relocs.test.ts does: the same split.
  const out = tempDir('klpr-split');
  try {
    const s = await klpSplit(['split', join(FIXTURES, 'livepatches/klpr-fix.c'), '--out', out]);
    if (s.code !== 0) throw new Error(s.stderr);
    const bb = await builtDir('klp-relocs-build', out, ['--target', targetKo]);
    if (bb.code !== 0) throw new Error(`${bb.stdout}\n${bb.stderr}`);
    built = bb.dir;
  } finally {
    removeDir(out);
  }
  scenario = join(root, 'load.scenario');
  writeFileSync(scenario, 'modprobe klpr_mod\nmodprobe klpr_fix\n');
});
afterAll(() => removeDir(root));

/** The part's .ko in a fresh copy of the built split, with `edits` applied. */
function damaged(edits: (elf: ReturnType<typeof readElf>) => RelocEdit[]): string {
  const dir = join(root, `copy-${copies++}`);
  cpSync(built, dir, { recursive: true });
  const ko = join(dir, PART);
  for (const e of edits(readElf(readFileSync(ko), ko))) applyRelocEdit(ko, e);
  return dir;
}

async function verifyAndSimulate(dir: string) {
  const v = await klpSplit(['verify', dir, '--target', targetKo, '--no-explore']);
  const s = await klpSplit(['simulate', dir, '--target', targetKo, '--scenario', scenario]);
  for (const r of [v, s]) {
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(r.stderr).not.toContain('internal error');
  }
  return { verify: v, verifyText: v.stdout + v.stderr, simulate: s, simulateText: s.stdout + s.stderr };
}

const relaSection = (elf: ReturnType<typeof readElf>, name: string) => elf.relocations.find((r) => r.section.name === name)!;
/** The first relocation of a 4-byte type in a section, and its index there. */
const firstPc32 = (rs: ReturnType<typeof relaSection>) => {
  const index = rs.relocs.findIndex((r) => r.type === C.R_X86_64_PC32 || r.type === C.R_X86_64_PLT32);
  return { index, r: rs.relocs[index]! };
};

describe('verify and simulate refuse what the kernel refuses or corrupts (issue 20)', () => {
  it('the undamaged split verifies and loads', async () => {
    const r = await verifyAndSimulate(built);
    expect(r.verify.code, r.verifyText).toBe(0);
    expect(r.simulate.code, r.simulateText).toBe(0);
    expect(r.simulateText).toContain(`livepatch: 'klpr_fix': patching complete`);
  });

  it("a relocation in .rela.text whose 4-byte field runs past the end of .text", async () => {
    let text = 0;
    const dir = damaged((elf) => {
      text = elf.sections.find((s) => s.name === '.text')!.size;
      return [{ kind: 'rela', section: '.rela.text', index: firstPc32(relaSection(elf, '.rela.text')).index, offset: text - 2 }];
    });
    const r = await verifyAndSimulate(dir);
    expect(r.verify.code, r.verifyText).toBe(1);
    const why = `writes 4 bytes (R_X86_64_P`;
    expect(r.verifyText).toContain(`relocation at offset ${text - 2} in '.rela.text' ${why}`);
    expect(r.verifyText).toContain(`past the end of '.text' (${text} bytes)`);
    expect(r.simulate.code).toBe(2);
    expect(r.simulateText).toContain(`relocation at offset ${text - 2} in '.rela.text' ${why}`);
  });

  it('the same in the livepatch relocation section .klp.rela.klpr_mod.text', async () => {
    let text = 0;
    const dir = damaged((elf) => {
      const rs = relaSection(elf, '.klp.rela.klpr_mod.text');
      text = rs.target.size;
      return [{ kind: 'rela', section: rs.section.name, index: 0, offset: text - 1 }];
    });
    const r = await verifyAndSimulate(dir);
    expect(r.verify.code, r.verifyText).toBe(1);
    expect(r.verifyText).toMatch(new RegExp(`relocation at offset ${text - 1} in '\\.klp\\.rela\\.klpr_mod\\.text' writes \\d bytes \\(R_X86_64_\\w+\\), past the end of '\\.text' \\(${text} bytes\\)`));
    expect(r.simulate.code).toBe(2);
  });

  it("a per-object module with a .klp.rela section for another object: the split kernel's klp_module_carries() refuses it", async () => {
    const dir = damaged(() => [{ kind: 'section-name', from: '.klp.rela.klpr_mod.text', to: '.klp.rela.klpr_xyz.text' }]);
    const line = `section .klp.rela.klpr_xyz.text of module '${PART_MODULE}': only the per-object module '<patch>__klpr_xyz' may relocate against 'klpr_xyz'`;
    const r = await verifyAndSimulate(dir);
    expect(r.verify.code, r.verifyText).toBe(1);
    // One finding, the kernel's line with where the code belongs (the placement rule).
    expect(r.verifyText).toMatch(new RegExp(`error: ${line.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(the split kernel refuses to load the per-object module of 'klpr_mod'; .*\\[klp-rela-not-carried\\]`));
    expect(r.verifyText.match(/\[klp-rela-not-carried\]/g)).toHaveLength(1);
    // The simulated kernel prints the kernel's line and the part does not load: the main module's enable fails.
    expect(r.simulateText).toContain(`livepatch: ${line}`);
    expect(r.simulateText).toContain(`livepatch: Module load failed: ${PART_MODULE}`);
    expect(r.simulateText).not.toContain(`'klpr_fix': patching complete`);
  });

  for (const [what, shndx, line] of [
    ['a reserved section index (SHN_LOPROC range)', 0xff05, `${PART_MODULE}: Symbol livepatch_klpr_mod_compute has an invalid section index 65285 (max `],
    ['SHN_XINDEX without the loader reading SYMTAB_SHNDX', C.SHN_XINDEX, undefined],
    ['SHN_COMMON (modules are built with -fno-common)', C.SHN_COMMON, `${PART_MODULE}: please compile with -fno-common`],
  ] as const) {
    it(`a symbol with ${what}`, async () => {
      const dir = damaged(() => [{ kind: 'symbol-shndx', symbol: 'livepatch_klpr_mod_compute', shndx, ...(line === undefined ? { unreadable: true as const } : {}) }]);
      const r = await verifyAndSimulate(dir);
      expect(r.verify.code, r.verifyText).toBe(1);
      if (line === undefined) {
        // No SYMTAB_SHNDX in the module: the reader refuses it, both commands say so.
        expect(r.verifyText).toContain('uses SHN_XINDEX but there is no SYMTAB_SHNDX entry for it');
        expect(r.simulate.code).toBe(2);
        return;
      }
      expect(r.verifyText).toContain(`the split kernel refuses to load '${PART_MODULE}': "${line}`);
      expect(r.simulateText).toContain(line);
      expect(r.simulateText).toContain(`livepatch: Module load failed: ${PART_MODULE}`);
    });
  }

  it('a symbol whose section index is past the section table', async () => {
    let n = 0;
    const dir = damaged((elf) => {
      n = elf.sections.length;
      return [{ kind: 'symbol-shndx', symbol: 'livepatch_klpr_mod_compute', shndx: n + 3, unreadable: true }];
    });
    const r = await verifyAndSimulate(dir);
    expect(r.verify.code, r.verifyText).toBe(1);
    expect(r.verifyText).toContain(`Symbol livepatch_klpr_mod_compute has an invalid section index ${n + 3} (max ${n - 1})`);
    expect(r.simulate.code).toBe(2);
  });

  it('a relocation type the x86-64 module loader does not know', async () => {
    const dir = damaged((elf) => [{ kind: 'rela', section: '.rela.text', index: firstPc32(relaSection(elf, '.rela.text')).index, type: 12 }]);
    const line = `module: ${PART_MODULE}: Unknown rela relocation: 12`;
    const r = await verifyAndSimulate(dir);
    expect(r.verify.code, r.verifyText).toBe(1);
    expect(r.verifyText).toContain(`"${line}"`);
    expect(r.simulateText).toContain(line);
  });

  it('a relocation whose field in .text is not 0: "Skipping invalid relocation target"', async () => {
    const dir = damaged((elf) => [{ kind: 'byte', section: '.text', offset: firstPc32(relaSection(elf, '.rela.text')).r.offset + 1, value: 0x5a }]);
    const r = await verifyAndSimulate(dir);
    const line = /module: x86\/modules: Skipping invalid relocation target, existing value is nonzero for type [24], loc \(____ptrval____\), val [0-9a-f]+/;
    expect(r.verify.code, r.verifyText).toBe(1);
    expect(r.verifyText).toMatch(line);
    expect(r.verifyText).toContain('[relocation-target-nonzero]');
    expect(r.simulateText).toMatch(line);
  });
});

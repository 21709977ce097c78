import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCorpusModules, removeDir, samples } from '../../../../test/helpers/env.js';
import { loadModuleImage } from '../image/module-image.js';
import { elfConstants as C, readModinfo, readThisModuleName, readVersions, ElfError, readElf, sectionByName, sectionData, type ElfFile, type ElfSection } from '@klp-split/kernel-facts';

/**
 * Precise errors for malformed modules, each made by editing a real .ko, and
 * extended section numbering (e_shnum 0, e_shstrndx SHN_XINDEX, SYMTAB_SHNDX)
 * read correctly, checked against readelf.
 */

const PATH = 'edited/livepatch-shadow-mod.ko';

let built: { dir: string; ko: (name: string) => string };
let original: Buffer;
let elf: ElfFile;

beforeAll(async () => {
  built = await buildCorpusModules([samples('livepatch-shadow-mod.c')]);
  original = readFileSync(built.ko('livepatch-shadow-mod.c'));
  elf = readElf(original, PATH);
});
afterAll(() => {
  if (built) removeDir(built.dir);
});

const copy = (): Buffer => Buffer.from(original);
const shdr = (index: number): number => elf.header.shoff + index * C.SHDR_SIZE;
const section = (name: string): ElfSection => {
  const s = sectionByName(elf, name);
  if (!s) throw new Error(`no section ${name} in the test module`);
  return s;
};

/** The ElfError the call throws (any other outcome fails the test). */
function elfError(fn: () => unknown): ElfError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ElfError) return e;
    throw e;
  }
  throw new Error('expected an ElfError, but the call returned');
}

function rejects(buf: Buffer, detail: string): void {
  const e = elfError(() => readElf(buf, PATH));
  expect(e.detail).toBe(detail);
  expect(e.file).toBe(PATH);
  expect(e.format()).toBe(`${PATH}: error: invalid ELF: ${detail} [elf-invalid]`);
  // The loader sees the same error.
  expect(elfError(() => loadModuleImage(PATH, buf)).detail).toBe(detail);
}

describe('precise errors for malformed modules', () => {
  it('a file shorter than the ELF header', () => {
    rejects(Buffer.alloc(0), 'file is 0 bytes, shorter than an ELF header (64)');
    rejects(original.subarray(0, 63), 'file is 63 bytes, shorter than an ELF header (64)');
  });

  it('a file that is not ELF', () => {
    const b = copy();
    b.write('MZ', 0, 'latin1');
    rejects(b, 'bad magic (not an ELF file)');
    rejects(Buffer.from('#!/bin/sh\necho this is not a kernel module, but it is long enough\n'), 'bad magic (not an ELF file)');
  });

  it('a 32-bit ELF file', () => {
    const b = copy();
    b[4] = 1; // ELFCLASS32
    rejects(b, 'class 1 is not ELFCLASS64');
  });

  it('a big-endian ELF file', () => {
    const b = copy();
    b[5] = 2; // ELFDATA2MSB
    rejects(b, 'data encoding 2 is not little-endian');
  });

  it('another machine or a non-relocatable file', () => {
    const arm = copy();
    arm.writeUInt16LE(183, 18); // EM_AARCH64
    rejects(arm, 'e_machine 183 is not EM_X86_64');
    const dyn = copy();
    dyn.writeUInt16LE(3, 16); // ET_DYN
    rejects(dyn, 'e_type 3 is not ET_REL (a kernel module is relocatable)');
  });

  it('a section header table past the end of the file', () => {
    const past = copy();
    past.writeBigUInt64LE(BigInt(past.length), 40);
    rejects(past, `section header table at ${past.length} lies past the end of the file (${past.length} bytes)`);
    const huge = copy();
    huge.writeBigUInt64LE(0xffffffffffffffffn, 40);
    rejects(huge, 'e_shoff (18446744073709551615) is too large');
    const n = elf.sections.length;
    rejects(original.subarray(0, original.length - 1), `section header table (${n} entries at ${elf.header.shoff}) is truncated`);
    const none = copy();
    none.writeBigUInt64LE(0n, 40);
    rejects(none, 'no section header table (e_shoff is 0)');
    const entsize = copy();
    entsize.writeUInt16LE(40, 58);
    rejects(entsize, 'e_shentsize 40 is not 64');
  });

  it('section contents past the end of the file', () => {
    const s = section('.modinfo');
    const b = copy();
    b.writeBigUInt64LE(BigInt(b.length - 4), shdr(s.index) + 24);
    rejects(b, `section ${s.index} (offset ${b.length - 4}, size ${s.size}) lies past the end of the file (${b.length} bytes)`);
    // Section 0 too, once it claims to be a table.
    const zero = copy();
    zero.writeUInt32LE(C.SHT_RELA, shdr(0) + 4);
    zero.writeBigUInt64LE(1n << 40n, shdr(0) + 24);
    zero.writeBigUInt64LE(24n, shdr(0) + 32);
    rejects(zero, `section 0 (offset ${2 ** 40}, size 24) lies past the end of the file (${zero.length} bytes)`);
  });

  it('an e_shstrndx out of range or not naming a string table', () => {
    const n = elf.sections.length;
    const out = copy();
    out.writeUInt16LE(n, 62);
    rejects(out, `e_shstrndx: section ${n} is out of range (${n} sections)`);
    const text = copy();
    text.writeUInt16LE(section('.text').index, 62);
    rejects(text, `section ${section('.text').index} named by e_shstrndx is not a string table`);
  });

  it('string offsets outside their string table', () => {
    const shstrtab = section('.shstrtab');
    const text = section('.text');
    const b = copy();
    b.writeUInt32LE(shstrtab.size, shdr(text.index));
    rejects(b, `name of section ${text.index}: offset ${shstrtab.size} is outside string table '.shstrtab' (${shstrtab.size} bytes)`);
    const strtab = section('.strtab');
    const symtab = section('.symtab');
    const sym = elf.symbols.findIndex((s) => s.name === '__this_module');
    const c = copy();
    c.writeUInt32LE(0xffffffff, symtab.offset + sym * C.SYM_SIZE);
    rejects(c, `name of symbol ${sym}: offset 4294967295 is outside string table '.strtab' (${strtab.size} bytes)`);
  });

  it('a string that runs off the end of its table', () => {
    // Cut .shstrtab just before the NUL of the name that ends last.
    const shstrtab = section('.shstrtab');
    const offsets = elf.sections.map((s) => original.readUInt32LE(shdr(s.index)));
    const ends = elf.sections.map((s, i) => offsets[i]! + s.name.length);
    const end = Math.max(...ends);
    // The first section (other than the table itself, named first) whose name ends there.
    const first = ends.findIndex((e, i) => e === end && i !== shstrtab.index && i !== 0);
    expect(first).toBeGreaterThan(0);
    const b = copy();
    b.writeBigUInt64LE(BigInt(end), shdr(shstrtab.index) + 32);
    rejects(b, `name of section ${first}: string at offset ${offsets[first]} of string table '.shstrtab' is not NUL-terminated`);
  });

  it('symbols and relocations that point nowhere', () => {
    const symtab = section('.symtab');
    const n = elf.sections.length;
    const sym = elf.symbols.findIndex((s) => s.name === '__this_module');
    const badIndex = copy();
    badIndex.writeUInt16LE(n + 5, symtab.offset + sym * C.SYM_SIZE + 6);
    rejects(badIndex, `Symbol __this_module has an invalid section index ${n + 5} (max ${n - 1})`);
    const xindex = copy();
    xindex.writeUInt16LE(C.SHN_XINDEX, symtab.offset + sym * C.SYM_SIZE + 6);
    rejects(xindex, `symbol ${sym} uses SHN_XINDEX but there is no SYMTAB_SHNDX entry for it`);

    const rela = section('.rela.text');
    const badSym = copy();
    badSym.writeUInt32LE(elf.symbols.length, rela.offset + 12);
    const first = elf.relocations.find((r) => r.section.index === rela.index)!.relocs[0]!;
    rejects(badSym, `relocation at ${first.offset} in '.rela.text' names symbol ${elf.symbols.length}; there are ${elf.symbols.length}`);
    const badOffset = copy();
    badOffset.writeBigUInt64LE(BigInt(section('.text').size), rela.offset);
    rejects(badOffset, `relocation offset ${section('.text').size} in '.rela.text' is outside '.text' (${section('.text').size} bytes)`);
    // Issue 20: the field, not only its first byte, must lie inside the section (the loader writes it unchecked).
    const text = section('.text').size;
    for (const [type, bytes, name] of [[C.R_X86_64_PLT32, 4, 'R_X86_64_PLT32'], [C.R_X86_64_64, 8, 'R_X86_64_64']] as const) {
      const pastEnd = copy();
      pastEnd.writeBigUInt64LE(BigInt(text - bytes + 1), rela.offset);
      pastEnd.writeUInt32LE(type, rela.offset + 8);
      rejects(pastEnd, `relocation at offset ${text - bytes + 1} in '.rela.text' writes ${bytes} bytes (${name}), past the end of '.text' (${text} bytes)`);
      const lastFit = copy();
      lastFit.writeBigUInt64LE(BigInt(text - bytes), rela.offset);
      lastFit.writeUInt32LE(type, rela.offset + 8);
      expect(readElf(lastFit, PATH).relocations.find((r) => r.section.index === rela.index)!.relocs[0]!.offset).toBe(text - bytes);
    }
    const rel = copy();
    rel.writeUInt32LE(C.SHT_REL, shdr(rela.index) + 4);
    rejects(rel, `section ${rela.index} '.rela.text' is SHT_REL; x86-64 modules use SHT_RELA`);
  });

  it('caps the work: section counts, duplicated relocation tables, SHT_NOBITS sizes', () => {
    // e_shnum 0 sends the reader to section 0's sh_size, which claims 2^40 sections.
    const many = copy();
    many.writeUInt16LE(0, 60);
    many.writeBigUInt64LE(1n << 40n, shdr(0) + 32);
    rejects(many, `section 0 sh_size (e_shnum is 0): ${2 ** 40} sections is more than supported (${2 ** 20})`);
    const none = copy();
    none.writeUInt16LE(0, 60);
    rejects(none, 'no sections (e_shnum and section 0 sh_size are both 0)');

    // Every relocation section lists the largest one's bytes again.
    const largest = elf.relocations.map((r) => r.section).reduce((a, b) => (b.size > a.size ? b : a));
    const dup = copy();
    for (const r of elf.relocations) {
      dup.writeBigUInt64LE(BigInt(largest.offset), shdr(r.section.index) + 24);
      dup.writeBigUInt64LE(BigInt(largest.size), shdr(r.section.index) + 32);
    }
    rejects(dup, `relocation sections total ${largest.size * elf.relocations.length} bytes, more than the file (${dup.length} bytes)`);

    // A NOBITS section is never read from the file, but it is never materialized past a bound either.
    const bss = section('.bss');
    const big = copy();
    big.writeBigUInt64LE(1n << 40n, shdr(bss.index) + 32);
    const bigElf = readElf(big, PATH);
    expect(elfError(() => sectionData(bigElf, bigElf.sections[bss.index]!)).detail).toBe(
      `SHT_NOBITS section ${bss.index} '.bss' of ${2 ** 40} bytes is too large to read`,
    );
    // The kernel's loader cannot lay a 1 TiB .bss out (32-bit layout sizes, MODULES_LEN): the load fails.
    const unloadable = elfError(() => loadModuleImage(PATH, big));
    expect(unloadable.code).toBe('module-unloadable');
    expect(unloadable.detail).toMatch(/^SHF_ALLOC section \d+ '\.bss' has sh_size 1099511627776; .*-ENOMEM, Cannot allocate memory\)$/);
  });

  it('metadata sections without contents', () => {
    for (const [name, read] of [
      ['.modinfo', readModinfo],
      ['__versions', readVersions],
      ['.gnu.linkonce.this_module', readThisModuleName],
    ] as const) {
      const s = section(name);
      const b = copy();
      b.writeUInt32LE(C.SHT_NOBITS, shdr(s.index) + 4);
      b.writeBigUInt64LE(1n << 31n, shdr(s.index) + 32);
      const edited = readElf(b, PATH);
      expect(elfError(() => read(edited)).detail).toBe(`section ${s.index} '${name}' is SHT_NOBITS; it must hold the module's data`);
      expect(elfError(() => loadModuleImage(PATH, b)).detail).toBe(`section ${s.index} '${name}' is SHT_NOBITS; it must hold the module's data`);
    }
  });

  it('an extended-numbering index that is out of range', () => {
    const b = copy();
    b.writeUInt16LE(C.SHN_XINDEX, 62);
    b.writeUInt32LE(70000, shdr(0) + 40);
    rejects(b, `section 0 sh_link (e_shstrndx is SHN_XINDEX): section 70000 is out of range (${elf.sections.length} sections)`);
  });
});

/** The parse minus what extended numbering legitimately changes (section 0, the header counts). */
function comparable(f: ElfFile) {
  return {
    sections: f.sections.slice(1),
    symbols: f.symbols,
    relocations: f.relocations.map((r) => ({ section: r.section.index, target: r.target.index, relocs: r.relocs })),
  };
}

describe('extended section numbering', () => {
  it('reads e_shnum 0 and e_shstrndx SHN_XINDEX from section 0', () => {
    const b = copy();
    b.writeUInt16LE(0, 60);
    b.writeUInt16LE(C.SHN_XINDEX, 62);
    b.writeBigUInt64LE(BigInt(elf.sections.length), shdr(0) + 32);
    b.writeUInt32LE(elf.header.shstrndx, shdr(0) + 40);
    const ext = readElf(b, PATH);
    expect(ext.header).toEqual(elf.header);
    expect(ext.sections[0]!.size).toBe(elf.sections.length);
    expect(ext.sections[0]!.link).toBe(elf.header.shstrndx);
    expect(comparable(ext)).toEqual(comparable(elf));
    const image = loadModuleImage(PATH, b);
    expect(image.name).toBe('livepatch_shadow_mod');
    expect(image.versions).toEqual(readVersions(elf));
    expect(image.modinfo).toEqual(readModinfo(elf));
  });

  it('reads a module with more than SHN_LORESERVE sections, a high .shstrtab and SYMTAB_SHNDX, as readelf does', async () => {
    // Append 0xff10 empty sections, a SYMTAB_SHNDX section and a copy of .shstrtab's header
    // at the very end, with a new section header table after the original file.
    const n = elf.sections.length;
    const extra = 0xff10;
    const high = n + extra - 1; // the last empty section, above SHN_LORESERVE
    const shndxIndex = n + extra;
    const shstrIndex = n + extra + 1;
    const total = n + extra + 2;
    const symtab = section('.symtab');
    const nsyms = elf.symbols.length;
    const align = (x: number, a: number) => Math.ceil(x / a) * a;
    const shndxOff = align(original.length, 8);
    const shoff = align(shndxOff + nsyms * 4, 8);
    const b = Buffer.alloc(shoff + total * C.SHDR_SIZE);
    original.copy(b);
    original.copy(b, shoff, elf.header.shoff, elf.header.shoff + n * C.SHDR_SIZE);
    const header = (i: number, f: { type: number; offset: number; size: number; link?: number; entsize?: number; align?: number }) => {
      const o = shoff + i * C.SHDR_SIZE;
      b.writeUInt32LE(0, o); // name: the empty string
      b.writeUInt32LE(f.type, o + 4);
      b.writeBigUInt64LE(BigInt(f.offset), o + 24);
      b.writeBigUInt64LE(BigInt(f.size), o + 32);
      b.writeUInt32LE(f.link ?? 0, o + 40);
      b.writeBigUInt64LE(BigInt(f.align ?? 1), o + 48);
      b.writeBigUInt64LE(BigInt(f.entsize ?? 0), o + 56);
    };
    for (let i = n; i < n + extra; i++) header(i, { type: C.SHT_PROGBITS, offset: shndxOff, size: 0 });
    header(shndxIndex, { type: C.SHT_SYMTAB_SHNDX, offset: shndxOff, size: nsyms * 4, link: symtab.index, entsize: 4, align: 4 });
    original.copy(b, shoff + shstrIndex * C.SHDR_SIZE, shdr(elf.header.shstrndx), shdr(elf.header.shstrndx) + C.SHDR_SIZE);
    b.writeBigUInt64LE(BigInt(shoff), 40);
    b.writeUInt16LE(0, 60);
    b.writeUInt16LE(C.SHN_XINDEX, 62);
    b.writeBigUInt64LE(BigInt(total), shoff + 32);
    b.writeUInt32LE(shstrIndex, shoff + 40);
    // One symbol keeps its section through SYMTAB_SHNDX, another moves to the high section.
    const kept = elf.symbols.findIndex((s) => s.name === '__this_module');
    const moved = elf.symbols.findIndex((s) => s.type === C.STT_OBJECT && s.name.startsWith('__UNIQUE_ID_'));
    for (const [sym, target] of [
      [kept, elf.symbols[kept]!.shndx],
      [moved, high],
    ] as const) {
      b.writeUInt16LE(C.SHN_XINDEX, symtab.offset + sym * C.SYM_SIZE + 6);
      b.writeUInt32LE(target, shndxOff + sym * 4);
    }

    const ext = readElf(b, PATH);
    expect(ext.header).toEqual({ ...elf.header, shoff, shnum: total, shstrndx: shstrIndex });
    expect(ext.sections.length).toBe(total);
    expect(ext.sections.slice(1, n)).toEqual(elf.sections.slice(1));
    expect(ext.sections[high]).toMatchObject({ index: high, name: '', type: C.SHT_PROGBITS, size: 0 });
    expect(ext.sections[shndxIndex]).toMatchObject({ type: C.SHT_SYMTAB_SHNDX, link: symtab.index, size: nsyms * 4 });
    expect(ext.sections[shstrIndex]).toMatchObject({ ...elf.sections[elf.header.shstrndx], index: shstrIndex });
    // Marked as read through SHN_XINDEX: the module loader does not, and refuses such a symbol.
    expect(ext.symbols[kept]).toEqual({ ...elf.symbols[kept], xindex: true });
    expect(ext.symbols[moved]).toEqual({ ...elf.symbols[moved], shndx: high, xindex: true });
    expect(ext.symbols.filter((_, i) => i !== moved && i !== kept)).toEqual(elf.symbols.filter((_, i) => i !== moved && i !== kept));
    expect(comparable(ext).relocations).toEqual(comparable(elf).relocations);
    expect(loadModuleImage(PATH, b).name).toBe('livepatch_shadow_mod');

    // binutils reads the same file the same way.
    const file = join(built.dir, 'extended.ko');
    writeFileSync(file, b);
    const sh = String((await execa('readelf', ['-S', '-W', file], { env: { LC_ALL: 'C' } })).stdout);
    expect(sh).toContain(`There are ${total} section headers, starting at offset 0x${shoff.toString(16)}:`);
    expect(sh).toMatch(new RegExp(`^\\s*\\[${shstrIndex}\\] \\.shstrtab\\s+STRTAB\\s`, 'm'));
    expect(sh).toMatch(new RegExp(`^\\s*\\[${shndxIndex}\\]\\s+SYMTAB SECTION INDICES\\s`, 'm'));
    const syms = String((await execa('readelf', ['-s', '-W', file], { env: { LC_ALL: 'C' } })).stdout);
    const ndx = (i: number) => new RegExp(`^\\s*${i}: [0-9a-f]{16}\\s+\\S+ \\S+\\s+\\S+\\s+\\S+\\s+(\\S+) `, 'm').exec(syms)?.[1];
    expect(ndx(kept)).toBe(String(elf.symbols[kept]!.shndx));
    expect(ndx(moved)).toBe(String(high));
  });
});

import { readFileSync } from 'node:fs';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { elfSampleSources } from '../../../../test/helpers/corpus.js';
import { buildCorpusModules, removeDir } from '../../../../test/helpers/env.js';
import * as C from './constants.js';
import { readModinfo, readThisModuleName, readVersions } from './module-info.js';
import { readElf, sectionByName, sectionData, type ElfFile } from './reader.js';

/**
 * The reader against binutils readelf (and kmod's modinfo/modprobe) on real
 * kernel modules built with kbuild from the unmodified corpus sources.
 */

const SOURCES = elfSampleSources();
const NAMES = SOURCES.map((s) => s.replace(/^.*\//, ''));

const SECTION_TYPES: Record<string, number> = {
  NULL: C.SHT_NULL,
  PROGBITS: C.SHT_PROGBITS,
  SYMTAB: C.SHT_SYMTAB,
  STRTAB: C.SHT_STRTAB,
  RELA: C.SHT_RELA,
  HASH: 5,
  DYNAMIC: 6,
  NOTE: 7,
  NOBITS: C.SHT_NOBITS,
  REL: C.SHT_REL,
  INIT_ARRAY: 14,
  FINI_ARRAY: 15,
  GROUP: 17,
  SYMTAB_SECTION_INDICES: C.SHT_SYMTAB_SHNDX,
  X86_64_UNWIND: 0x70000001,
};

/** readelf's section flag letters (binutils get_elf_section_flags, x86-64); 'o' is any OS-specific bit. */
const FLAG_LETTERS: Record<string, number> = {
  W: 0x1,
  A: 0x2,
  X: 0x4,
  M: 0x10,
  S: 0x20,
  I: 0x40,
  L: 0x80,
  O: 0x100,
  G: 0x200,
  T: 0x400,
  C: 0x800,
  l: 0x10000000,
  E: 0x80000000,
};
const SHF_MASKOS = 0x0ff00000;

const SYMBOL_TYPES: Record<string, number> = { NOTYPE: 0, OBJECT: 1, FUNC: 2, SECTION: 3, FILE: 4, COMMON: 5, TLS: 6 };
const SYMBOL_BINDS: Record<string, number> = { LOCAL: 0, GLOBAL: 1, WEAK: 2 };

/** x86-64 psABI relocation names, for types the reader's own table does not name. */
const PSABI_RELOCS = [
  'NONE', '64', 'PC32', 'GOT32', 'PLT32', 'COPY', 'GLOB_DAT', 'JUMP_SLOT', 'RELATIVE', 'GOTPCREL',
  '32', '32S', '16', 'PC16', '8', 'PC8', 'DTPMOD64', 'DTPOFF64', 'TPOFF64', 'TLSGD',
  'TLSLD', 'DTPOFF32', 'GOTTPOFF', 'TPOFF32', 'PC64', 'GOTOFF64', 'GOTPC32', 'GOT64', 'GOTPCREL64', 'GOTPC64',
  'GOTPLT64', 'PLTOFF64', 'SIZE32', 'SIZE64', 'GOTPC32_TLSDESC', 'TLSDESC_CALL', 'TLSDESC', 'IRELATIVE', 'RELATIVE64', undefined,
  undefined, 'GOTPCRELX', 'REX_GOTPCRELX',
];
const relocName = (type: number): string | undefined =>
  C.RELOC_NAMES[type] ?? (PSABI_RELOCS[type] === undefined ? undefined : `R_X86_64_${PSABI_RELOCS[type]}`);

async function readelf(args: string[], ko: string): Promise<string[]> {
  const r = await execa('readelf', [...args, '-W', ko], { env: { LC_ALL: 'C' } });
  return String(r.stdout).split('\n');
}

const hex = (s: string): number => Number.parseInt(s, 16);

interface ReadelfSection {
  index: number;
  name: string;
  type: string;
  addr: number;
  offset: number;
  size: number;
  entsize: number;
  flags: string;
  link: number;
  info: number;
  align: number;
}

function parseSections(lines: string[]): { count: number; shoff: number; sections: ReadelfSection[] } {
  const head = lines.map((l) => /^There are (\d+) section headers, starting at offset 0x([0-9a-f]+):$/.exec(l)).find((m) => m);
  if (!head) throw new Error(`readelf -S: no header line in:\n${lines.join('\n')}`);
  const sections: ReadelfSection[] = [];
  for (const line of lines) {
    if (!/^\s*\[\s*\d+\]/.test(line)) continue;
    const m = /^\s*\[\s*(\d+)\] (.*?)\s+(\S+)\s+([0-9a-f]{16}) ([0-9a-f]+) ([0-9a-f]+) ([0-9a-f]+)\s+([A-Za-z]*)\s+(\d+)\s+(\d+)\s+(\d+)$/.exec(line);
    if (!m) throw new Error(`readelf -S: cannot parse '${line}'`);
    sections.push({
      index: Number(m[1]),
      name: m[2]!.trim(),
      type: m[3]!,
      addr: hex(m[4]!),
      offset: hex(m[5]!),
      size: hex(m[6]!),
      entsize: hex(m[7]!),
      flags: m[8]!,
      link: Number(m[9]),
      info: Number(m[10]),
      align: Number(m[11]),
    });
  }
  return { count: Number(head[1]), shoff: hex(head[2]!), sections };
}

function flagsFromLetters(letters: string): { bits: number; os: boolean } {
  let bits = 0;
  let os = false;
  for (const ch of letters) {
    if (ch === 'o') os = true;
    else if (FLAG_LETTERS[ch] !== undefined) bits += FLAG_LETTERS[ch];
    else throw new Error(`readelf flag letter '${ch}' is not one this test knows`);
  }
  return { bits, os };
}

interface ReadelfSymbol {
  index: number;
  value: number;
  size: number;
  type: string;
  bind: string;
  ndx: string;
  name: string;
}

function parseSymbols(lines: string[]): { table: string; count: number; symbols: ReadelfSymbol[] }[] {
  const tables: { table: string; count: number; symbols: ReadelfSymbol[] }[] = [];
  for (const line of lines) {
    const t = /^Symbol table '(.+)' contains (\d+) entr(?:y|ies):$/.exec(line);
    if (t) {
      tables.push({ table: t[1]!, count: Number(t[2]), symbols: [] });
      continue;
    }
    if (!/^\s*\d+:/.test(line)) continue;
    const m = /^\s*(\d+): ([0-9a-f]{16})\s+(0x[0-9a-f]+|\d+) (\S+)\s+(\S+)\s+(\S+)\s+(\S+) ?(.*)$/.exec(line);
    if (!m || tables.length === 0) throw new Error(`readelf -s: cannot parse '${line}'`);
    tables.at(-1)!.symbols.push({
      index: Number(m[1]),
      value: hex(m[2]!),
      size: Number(m[3]),
      type: m[4]!,
      bind: m[5]!,
      ndx: m[7]!,
      name: m[8]!,
    });
  }
  return tables;
}

interface ReadelfRela {
  offset: number;
  info: bigint;
  type: string;
  symbol: string;
  addend: bigint;
}

function parseRelocs(lines: string[]): { section: string; offset: number; count: number; relocs: ReadelfRela[] }[] {
  const out: { section: string; offset: number; count: number; relocs: ReadelfRela[] }[] = [];
  for (const line of lines) {
    const h = /^Relocation section '(.+)' at offset 0x([0-9a-f]+) contains (\d+) entr(?:y|ies):$/.exec(line);
    if (h) {
      out.push({ section: h[1]!, offset: hex(h[2]!), count: Number(h[3]), relocs: [] });
      continue;
    }
    if (!/^[0-9a-f]{16} /.test(line)) continue;
    const withSym = /^([0-9a-f]{16})\s+([0-9a-f]{16}) (\S+)\s+[0-9a-f]{16} (.+) ([+-]) ([0-9a-f]+)$/.exec(line);
    const noSym = /^([0-9a-f]{16})\s+([0-9a-f]{16}) (\S+)\s+(-?)([0-9a-f]+)$/.exec(line);
    if ((!withSym && !noSym) || out.length === 0) throw new Error(`readelf -r: cannot parse '${line}'`);
    const m = withSym ?? noSym!;
    const magnitude = BigInt(`0x${withSym ? withSym[6] : noSym![5]}`);
    const negative = withSym ? withSym[5] === '-' : noSym![4] === '-';
    out.at(-1)!.relocs.push({
      offset: hex(m[1]!),
      info: BigInt(`0x${m[2]}`),
      type: m[3]!,
      symbol: withSym ? withSym[4]! : '',
      addend: negative ? -magnitude : magnitude,
    });
  }
  return out;
}

/** readelf -x: the section's bytes from its hex dump. */
function parseHexDump(lines: string[]): Buffer {
  const bytes: number[] = [];
  for (const line of lines) {
    const m = /^\s+0x[0-9a-f]+ ((?:[0-9a-f]{2,8} ){1,4})/.exec(line);
    if (!m) continue;
    for (const word of m[1]!.trim().split(' ')) for (let i = 0; i < word.length; i += 2) bytes.push(hex(word.slice(i, i + 2)));
  }
  return Buffer.from(bytes);
}

function ndxText(shndx: number): string {
  if (shndx === C.SHN_UNDEF) return 'UND';
  if (shndx === C.SHN_ABS) return 'ABS';
  if (shndx === C.SHN_COMMON) return 'COM';
  return String(shndx);
}

describe('the ELF reader against readelf on real kernel modules', () => {
  let built: { dir: string; ko: (name: string) => string };
  const elves = new Map<string, ElfFile>();

  beforeAll(async () => {
    built = await buildCorpusModules(SOURCES);
    for (const name of NAMES) elves.set(name, readElf(readFileSync(built.ko(name)), built.ko(name)));
  });
  afterAll(() => {
    if (built) removeDir(built.dir);
  });

  describe.each(NAMES)('%s', (name) => {
    it('reads every section header as readelf -S does', async () => {
      const elf = elves.get(name)!;
      const ref = parseSections(await readelf(['-S'], built.ko(name)));
      expect(elf.header.shnum).toBe(ref.count);
      expect(elf.header.shoff).toBe(ref.shoff);
      expect(ref.sections.length).toBe(ref.count);
      expect(elf.sections.length).toBe(ref.count);
      for (const r of ref.sections) {
        const s = elf.sections[r.index]!;
        const where = `section [${r.index}] ${r.name}`;
        expect(s.index, where).toBe(r.index);
        expect(s.name, where).toBe(r.name);
        expect(SECTION_TYPES[r.type], `${where}: readelf type ${r.type}`).toBe(s.type);
        expect(s.addr, where).toBe(r.addr);
        expect(s.offset, where).toBe(r.offset);
        expect(s.size, where).toBe(r.size);
        expect(s.entsize, where).toBe(r.entsize);
        const flags = flagsFromLetters(r.flags);
        expect(s.flags & ~SHF_MASKOS, `${where} flags ${r.flags}`).toBe(flags.bits);
        expect((s.flags & SHF_MASKOS) !== 0, `${where} OS flags ${r.flags}`).toBe(flags.os);
        expect(s.link, where).toBe(r.link);
        expect(s.info, where).toBe(r.info);
        expect(s.addralign, where).toBe(r.align);
      }
      // The modules carry the sections the rest of the simulator relies on.
      for (const wanted of ['.symtab', '.strtab', '.shstrtab', '.modinfo', '__versions', '.gnu.linkonce.this_module', '.rela.gnu.linkonce.this_module']) {
        expect(sectionByName(elf, wanted), wanted).toBeDefined();
      }
    });

    it('reads every symbol as readelf -s does', async () => {
      const elf = elves.get(name)!;
      const tables = parseSymbols(await readelf(['-s'], built.ko(name)));
      expect(tables.map((t) => t.table)).toEqual(['.symtab']);
      const ref = tables[0]!;
      expect(ref.symbols.length).toBe(ref.count);
      expect(elf.symbols.length).toBe(ref.count);
      for (const r of ref.symbols) {
        const s = elf.symbols[r.index]!;
        const where = `symbol ${r.index} ${r.name}`;
        expect(s.index, where).toBe(r.index);
        expect(s.value, where).toBe(r.value);
        expect(s.size, where).toBe(r.size);
        expect(SYMBOL_TYPES[r.type], `${where}: readelf type ${r.type}`).toBe(s.type);
        expect(SYMBOL_BINDS[r.bind], `${where}: readelf bind ${r.bind}`).toBe(s.bind);
        expect(ndxText(s.shndx), where).toBe(r.ndx);
        // readelf names an unnamed section symbol after its section.
        const shown = s.type === C.STT_SECTION && s.name === '' ? elf.sections[s.shndx]!.name : s.name;
        expect(shown, where).toBe(r.name);
      }
      expect(elf.symbols.some((s) => s.name === '__this_module' && s.bind === C.STB_GLOBAL)).toBe(true);
    });

    it('reads every relocation as readelf -r does', async () => {
      const elf = elves.get(name)!;
      const ref = parseRelocs(await readelf(['-r'], built.ko(name)));
      expect(elf.relocations.map((rs) => rs.section.name)).toEqual(ref.map((r) => r.section));
      let total = 0;
      for (const [i, r] of ref.entries()) {
        const rs = elf.relocations[i]!;
        expect(rs.section.offset, r.section).toBe(r.offset);
        expect(rs.relocs.length, r.section).toBe(r.count);
        expect(r.relocs.length, r.section).toBe(r.count);
        expect(rs.target.index, r.section).toBe(rs.section.info);
        for (const [j, want] of r.relocs.entries()) {
          const got = rs.relocs[j]!;
          const where = `${r.section} entry ${j} at 0x${want.offset.toString(16)}`;
          expect(got.offset, where).toBe(want.offset);
          expect((BigInt(got.symIndex) << 32n) | BigInt(got.type), where).toBe(want.info);
          expect(relocName(got.type), where).toBe(want.type);
          const sym = elf.symbols[got.symIndex]!;
          const shown = got.symIndex === 0 ? '' : sym.type === C.STT_SECTION && sym.name === '' ? elf.sections[sym.shndx]!.name : sym.name;
          expect(shown, where).toBe(want.symbol);
          expect(got.addend, where).toBe(want.addend);
        }
        total += r.count;
      }
      expect(total).toBeGreaterThan(100);
    });

    it('reads .modinfo and the module name as modinfo does', async () => {
      const elf = elves.get(name)!;
      const modinfo = readModinfo(elf);
      const field = async (f: string) => String((await execa('modinfo', ['-F', f, built.ko(name)])).stdout);
      const modname = await field('name');
      expect(modname).toBe(name.replace(/\.c$/, '').replace(/-/g, '_'));
      expect(modinfo.get('name')).toEqual([modname]);
      expect(modinfo.get('vermagic')).toEqual([await field('vermagic')]);
      expect(modinfo.get('license')).toEqual([await field('license')]);
      expect(readThisModuleName(elf)).toBe(modname);
    });

    it('reads __versions as readelf -x and modprobe --dump-modversions do', async () => {
      const elf = elves.get(name)!;
      const versions = readVersions(elf);
      const section = sectionByName(elf, '__versions')!;
      expect(sectionData(elf, section).equals(parseHexDump(await readelf(['-x', '__versions'], built.ko(name))))).toBe(true);
      const dump = String((await execa('modprobe', ['--dump-modversions', built.ko(name)])).stdout).split('\n').filter(Boolean);
      expect(versions.length).toBe(section.size / 64);
      expect(versions.map((v) => `0x${v.crc.toString(16).padStart(8, '0')}\t${v.name}`)).toEqual(dump);
      expect(versions.map((v) => v.name)).toContain('module_layout');
    });
  });
});

import { KlpError } from '@klp-split/core';
import * as C from './constants.js';

/** A malformed, unsupported or unloadable ELF file: `file: error: invalid ELF: detail [elf-invalid]`, never a stack trace. */
export class ElfError extends KlpError {
  constructor(
    file: string,
    readonly detail: string,
    code = 'elf-invalid',
  ) {
    super(`invalid ELF: ${detail}`, { code, file });
    this.name = 'ElfError';
  }
}

interface ElfHeader {
  type: number;
  machine: number;
  shoff: number;
  shnum: number;
  shstrndx: number;
}

export interface ElfSection {
  index: number;
  name: string;
  type: number;
  flags: number;
  addr: number;
  offset: number;
  size: number;
  link: number;
  info: number;
  addralign: number;
  entsize: number;
}

export interface ElfSymbol {
  index: number;
  name: string;
  value: number;
  size: number;
  type: number;
  bind: number;
  other: number;
  /** Section index after resolving SHN_XINDEX. */
  shndx: number;
  /** st_shndx was SHN_XINDEX (the real index is in SHT_SYMTAB_SHNDX; the module loader does not read it). */
  xindex?: true;
}

export interface ElfRela {
  offset: number;
  type: number;
  symIndex: number;
  addend: bigint;
}

export interface ElfRelocSection {
  section: ElfSection;
  target: ElfSection;
  relocs: ElfRela[];
}

export interface ElfFile {
  path: string;
  buf: Buffer;
  header: ElfHeader;
  sections: ElfSection[];
  symbols: ElfSymbol[];
  relocations: ElfRelocSection[];
}

const MAX_SECTIONS = 1 << 20;
/** Largest SHT_NOBITS section sectionData materializes as zeros (a module's .bss is far smaller). */
const MAX_NOBITS_DATA = 1 << 28;

/** Reads an ELF64 little-endian x86-64 relocatable object (a kernel module). */
export function readElf(buf: Buffer, path: string): ElfFile {
  const fail = (detail: string): never => {
    throw new ElfError(path, detail);
  };
  if (buf.length < C.EHDR_SIZE) fail(`file is ${buf.length} bytes, shorter than an ELF header (64)`);
  if (buf.readUInt32BE(0) !== 0x7f454c46) fail('bad magic (not an ELF file)');
  if (buf[4] !== C.ELFCLASS64) fail(`class ${buf[4]} is not ELFCLASS64`);
  if (buf[5] !== C.ELFDATA2LSB) fail(`data encoding ${buf[5]} is not little-endian`);
  const type = buf.readUInt16LE(16);
  const machine = buf.readUInt16LE(18);
  if (type !== C.ET_REL) fail(`e_type ${type} is not ET_REL (a kernel module is relocatable)`);
  if (machine !== C.EM_X86_64) fail(`e_machine ${machine} is not EM_X86_64`);
  const shoff = num(buf.readBigUInt64LE(40), 'e_shoff', fail);
  const shentsize = buf.readUInt16LE(58);
  let shnum = buf.readUInt16LE(60);
  let shstrndx = buf.readUInt16LE(62);
  if (shoff === 0) fail('no section header table (e_shoff is 0)');
  if (shentsize !== C.SHDR_SIZE) fail(`e_shentsize ${shentsize} is not ${C.SHDR_SIZE}`);
  if (shoff + C.SHDR_SIZE > buf.length) fail(`section header table at ${shoff} lies past the end of the file (${buf.length} bytes)`);
  // Extended numbering: section 0 carries the real counts.
  const shnumFrom = shnum === 0 ? 'section 0 sh_size (e_shnum is 0)' : 'e_shnum';
  const shstrndxFrom = shstrndx === C.SHN_XINDEX ? 'section 0 sh_link (e_shstrndx is SHN_XINDEX)' : 'e_shstrndx';
  if (shnum === 0) shnum = num(buf.readBigUInt64LE(shoff + 32), 'section 0 sh_size', fail);
  if (shstrndx === C.SHN_XINDEX) shstrndx = buf.readUInt32LE(shoff + 40);
  if (shnum === 0) fail('no sections (e_shnum and section 0 sh_size are both 0)');
  if (shnum > MAX_SECTIONS) fail(`${shnumFrom}: ${shnum} sections is more than supported (${MAX_SECTIONS})`);
  if (shoff + shnum * C.SHDR_SIZE > buf.length) fail(`section header table (${shnum} entries at ${shoff}) is truncated`);
  if (shstrndx >= shnum) fail(`${shstrndxFrom}: section ${shstrndx} is out of range (${shnum} sections)`);

  const sections: ElfSection[] = [];
  const nameOffsets: number[] = [];
  for (let i = 0; i < shnum; i++) {
    const o = shoff + i * C.SHDR_SIZE;
    const s: ElfSection = {
      index: i,
      name: '',
      type: buf.readUInt32LE(o + 4),
      flags: num(buf.readBigUInt64LE(o + 8), `section ${i} sh_flags`, fail),
      addr: num(buf.readBigUInt64LE(o + 16), `section ${i} sh_addr`, fail),
      offset: num(buf.readBigUInt64LE(o + 24), `section ${i} sh_offset`, fail),
      size: num(buf.readBigUInt64LE(o + 32), `section ${i} sh_size`, fail),
      link: buf.readUInt32LE(o + 40),
      info: buf.readUInt32LE(o + 44),
      addralign: num(buf.readBigUInt64LE(o + 48), `section ${i} sh_addralign`, fail),
      entsize: num(buf.readBigUInt64LE(o + 56), `section ${i} sh_entsize`, fail),
    };
    if (s.type !== C.SHT_NOBITS && s.type !== C.SHT_NULL && s.offset + s.size > buf.length) {
      fail(`section ${i} (offset ${s.offset}, size ${s.size}) lies past the end of the file (${buf.length} bytes)`);
    }
    sections.push(s);
    nameOffsets.push(buf.readUInt32LE(o));
  }
  const shstr = sections[shstrndx]!;
  if (shstr.type !== C.SHT_STRTAB) fail(`section ${shstrndx} named by e_shstrndx is not a string table`);
  // The string table's own name first, so that errors in the other names can give it.
  if (shstrndx !== 0) shstr.name = stringAt(buf, shstr, nameOffsets[shstrndx]!, `name of section ${shstrndx}`, fail);
  for (const s of sections) {
    if (s !== shstr) s.name = s.index === 0 ? '' : stringAt(buf, shstr, nameOffsets[s.index]!, `name of section ${s.index}`, fail);
  }

  const symtabs = sections.filter((s) => s.type === C.SHT_SYMTAB);
  if (symtabs.length > 1) fail(`${symtabs.length} symbol tables; a relocatable object has one`);
  const symtab = symtabs[0];
  const symbols = symtab ? readSymbols(buf, sections, symtab, fail) : [];
  // Sections of a relocatable object do not overlap: relocation tables larger in total than the
  // file can only be the same bytes listed again, which would multiply the work below.
  const relaBytes = sections.reduce((n, s) => n + (s.type === C.SHT_RELA ? s.size : 0), 0);
  if (relaBytes > buf.length) fail(`relocation sections total ${relaBytes} bytes, more than the file (${buf.length} bytes)`);
  const relocations: ElfRelocSection[] = [];
  for (const s of sections) {
    if (s.type === C.SHT_REL) fail(`section ${s.index} '${s.name}' is SHT_REL; x86-64 modules use SHT_RELA`);
    if (s.type !== C.SHT_RELA) continue;
    relocations.push(readRelas(buf, sections, s, symtab, symbols.length, fail));
  }
  return { path, buf, header: { type, machine, shoff, shnum, shstrndx }, sections, symbols, relocations };
}

/** An unsigned 64-bit field as a number, read in 32-bit halves (BigInt reads are slow). */
function u64(buf: Buffer, at: number, what: string, fail: (d: string) => never): number {
  const high = buf.readUInt32LE(at + 4);
  if (high >= 0x200000) fail(`${what} (${buf.readBigUInt64LE(at)}) is too large`);
  return high * 2 ** 32 + buf.readUInt32LE(at);
}

function num(v: bigint, what: string, fail: (d: string) => never): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`${what} (${v}) is too large`);
  return Number(v);
}

function stringAt(buf: Buffer, table: ElfSection, off: number, what: string, fail: (d: string) => never): string {
  const label = table.name ? `'${table.name}'` : `in section ${table.index}`;
  if (table.type === C.SHT_NOBITS) fail(`string table ${label} has no data`);
  if (off >= table.size) fail(`${what}: offset ${off} is outside string table ${label} (${table.size} bytes)`);
  const start = table.offset + off;
  const nul = buf.subarray(start, table.offset + table.size).indexOf(0);
  const end = start + nul;
  if (nul < 0) fail(`${what}: string at offset ${off} of string table ${label} is not NUL-terminated`);
  return buf.toString('latin1', start, end);
}

function readSymbols(buf: Buffer, sections: ElfSection[], symtab: ElfSection, fail: (d: string) => never): ElfSymbol[] {
  if (symtab.entsize !== C.SYM_SIZE) fail(`symbol table entry size ${symtab.entsize} is not ${C.SYM_SIZE}`);
  if (symtab.size % C.SYM_SIZE !== 0) fail(`symbol table size ${symtab.size} is not a multiple of ${C.SYM_SIZE}`);
  const strtab = sections[symtab.link];
  if (!strtab || strtab.type !== C.SHT_STRTAB) fail(`symbol table's sh_link ${symtab.link} is not a string table`);
  const shndxSec = sections.find((s) => s.type === C.SHT_SYMTAB_SHNDX && s.link === symtab.index);
  const count = symtab.size / C.SYM_SIZE;
  const symbols: ElfSymbol[] = [];
  for (let i = 0; i < count; i++) {
    const o = symtab.offset + i * C.SYM_SIZE;
    const info = buf[o + 4]!;
    const name = i === 0 ? '' : stringAt(buf, strtab!, buf.readUInt32LE(o), `name of symbol ${i}`, fail);
    let shndx = buf.readUInt16LE(o + 6);
    const xindex = shndx === C.SHN_XINDEX;
    if (xindex) {
      if (!shndxSec || shndxSec.size < (i + 1) * 4) fail(`symbol ${i} uses SHN_XINDEX but there is no SYMTAB_SHNDX entry for it`);
      shndx = buf.readUInt32LE(shndxSec!.offset + i * 4);
      if (shndx >= sections.length) fail(`symbol ${i}: extended section index ${shndx} is out of range (${sections.length} sections)`);
    } else if (shndx !== C.SHN_UNDEF && shndx < C.SHN_LORESERVE && shndx >= sections.length) {
      // The module loader's words (simplify_symbols()), with the symbol's index for a nameless one.
      fail(`Symbol ${name || `${i}`} has an invalid section index ${shndx} (max ${sections.length - 1})`);
    }
    symbols.push({
      index: i,
      name,
      value: u64(buf, o + 8, `symbol ${i} st_value`, fail),
      size: u64(buf, o + 16, `symbol ${i} st_size`, fail),
      type: info & 0xf,
      bind: info >> 4,
      other: buf[o + 5]!,
      shndx,
      ...(xindex ? { xindex: true as const } : {}),
    });
  }
  return symbols;
}

function readRelas(
  buf: Buffer,
  sections: ElfSection[],
  s: ElfSection,
  symtab: ElfSection | undefined,
  symCount: number,
  fail: (d: string) => never,
): ElfRelocSection {
  if (s.entsize !== C.RELA_SIZE) fail(`relocation section '${s.name}' entry size ${s.entsize} is not ${C.RELA_SIZE}`);
  if (s.size % C.RELA_SIZE !== 0) fail(`relocation section '${s.name}' size ${s.size} is not a multiple of ${C.RELA_SIZE}`);
  if (!symtab || s.link !== symtab.index) fail(`relocation section '${s.name}' links to section ${s.link}, not the symbol table`);
  const target = sections[s.info];
  if (!target || s.info === 0) fail(`relocation section '${s.name}' applies to section ${s.info}, which does not exist`);
  const relocs: ElfRela[] = [];
  for (let o = s.offset; o < s.offset + s.size; o += C.RELA_SIZE) {
    // 32-bit halves: BigInt reads of every field dominate reading a module with debug info.
    const symIndex = buf.readUInt32LE(o + 12);
    const type = buf.readUInt32LE(o + 8);
    const offset = u64(buf, o, `relocation in '${s.name}' r_offset`, fail);
    if (symIndex >= symCount) fail(`relocation at ${offset} in '${s.name}' names symbol ${symIndex}; there are ${symCount}`);
    if (target!.type !== C.SHT_NOBITS && offset >= target!.size) fail(`relocation offset ${offset} in '${s.name}' is outside '${target!.name}' (${target!.size} bytes)`);
    // The whole field, not only its first byte: the module loader writes it without a bounds check.
    const field = C.RELOC_FIELD_BYTES[type];
    if (field !== undefined && offset + field > target!.size) {
      fail(`relocation at offset ${offset} in '${s.name}' writes ${field} bytes (${relocName(type)}), past the end of '${target!.name}' (${target!.size} bytes)`);
    }
    relocs.push({ offset, type, symIndex, addend: buf.readBigInt64LE(o + 16) });
  }
  return { section: s, target: target!, relocs };
}

function relocName(type: number): string {
  return C.RELOC_NAMES[type] ?? `relocation type ${type}`;
}

export function sectionData(elf: ElfFile, s: ElfSection): Buffer {
  if (s.type === C.SHT_NOBITS) {
    if (s.size > MAX_NOBITS_DATA) throw new ElfError(elf.path, `SHT_NOBITS section ${s.index} '${s.name}' of ${s.size} bytes is too large to read`);
    return Buffer.alloc(s.size);
  }
  return elf.buf.subarray(s.offset, s.offset + s.size);
}

export function sectionByName(elf: ElfFile, name: string): ElfSection | undefined {
  return elf.sections.find((s) => s.name === name);
}

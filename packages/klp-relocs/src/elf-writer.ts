import { KlpError } from '@klp-split/core';
import { elfConstants as C, type ElfFile, type ElfRela } from '@klp-split/kernel-facts';

/** SHF_INFO_LINK: sh_info holds a section index (gABI). */
export const SHF_INFO_LINK = 0x40;

/**
 * Changes to a relocatable ELF file that keep every existing section and
 * symbol index: the loader, the symbol table's locals/globals split and
 * every relocation stay valid. New sections go after the old ones, new
 * strings after the old string tables (copied to the end of the file).
 */
export interface ElfEdits {
  /** Symbol index -> new name and section index. */
  symbols: Map<number, { name: string; shndx: number }>;
  /** Relocation section index -> the entries it keeps (a subset, in order). */
  keptRelocs: Map<number, ElfRela[]>;
  /** New SHT_RELA sections: name, the section they apply to, flags, entries. */
  newRelaSections: { name: string; target: number; flags: number; relocs: ElfRela[] }[];
  /** Section index -> new contents, at most as long as the old (written in place). */
  contents: Map<number, Buffer>;
  /** Section index -> flags. */
  flags: Map<number, number>;
  /** Symbol index -> new st_size (a symbol covering contents that shrank). */
  symbolSizes: Map<number, number>;
}

export function emptyEdits(): ElfEdits {
  return { symbols: new Map(), keptRelocs: new Map(), newRelaSections: [], contents: new Map(), flags: new Map(), symbolSizes: new Map() };
}

interface Header {
  name: number;
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

function align(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

function writeRela(buf: Buffer, at: number, r: ElfRela): void {
  buf.writeBigUInt64LE(BigInt(r.offset), at);
  buf.writeUInt32LE(r.type, at + 8);
  buf.writeUInt32LE(r.symIndex, at + 12);
  buf.writeBigInt64LE(r.addend, at + 16);
}

/** A string table grown by appending: existing offsets stay valid. */
class GrowingStrtab {
  readonly #parts: Buffer[];
  #size: number;
  readonly #added = new Map<string, number>();
  constructor(original: Buffer) {
    this.#parts = [original];
    this.#size = original.length;
  }
  add(s: string): number {
    const known = this.#added.get(s);
    if (known !== undefined) return known;
    const at = this.#size;
    const b = Buffer.from(`${s}\0`, 'latin1');
    this.#parts.push(b);
    this.#size += b.length;
    this.#added.set(s, at);
    return at;
  }
  data(): Buffer {
    return Buffer.concat(this.#parts);
  }
}

export function applyElfEdits(elf: ElfFile, edits: ElfEdits): Buffer {
  const fail = (detail: string): never => {
    throw new KlpError(`${elf.path}: cannot rewrite: ${detail}`, { code: 'elf-rewrite', file: elf.path });
  };
  const out = Buffer.from(elf.buf);
  const headers: Header[] = elf.sections.map((s, i) => ({
    name: elf.buf.readUInt32LE(elf.header.shoff + i * C.SHDR_SIZE),
    type: s.type,
    flags: s.flags,
    addr: s.addr,
    offset: s.offset,
    size: s.size,
    link: s.link,
    info: s.info,
    addralign: s.addralign,
    entsize: s.entsize,
  }));
  const symtab = elf.sections.find((s) => s.type === C.SHT_SYMTAB);
  if (!symtab && edits.symbols.size) fail('no symbol table');
  const shstrndx = elf.header.shstrndx;
  const shstr = new GrowingStrtab(Buffer.from(out.subarray(elf.sections[shstrndx]!.offset, elf.sections[shstrndx]!.offset + elf.sections[shstrndx]!.size)));
  const appended: { index: number; data: Buffer; align: number }[] = [];

  if (symtab && edits.symbols.size) {
    const strtabSec = elf.sections[symtab.link]!;
    const strtab = new GrowingStrtab(Buffer.from(out.subarray(strtabSec.offset, strtabSec.offset + strtabSec.size)));
    for (const [index, change] of edits.symbols) {
      if (index <= 0 || index >= elf.symbols.length) fail(`symbol ${index} does not exist`);
      const at = symtab.offset + index * C.SYM_SIZE;
      out.writeUInt32LE(strtab.add(change.name), at);
      if (change.shndx >= C.SHN_LORESERVE || change.shndx < elf.sections.length) out.writeUInt16LE(change.shndx, at + 6);
      else fail(`section index ${change.shndx} needs extended numbering`);
    }
    appended.push({ index: symtab.link, data: strtab.data(), align: 1 });
  }
  for (const [index, size] of edits.symbolSizes) out.writeBigUInt64LE(BigInt(size), symtab!.offset + index * C.SYM_SIZE + 16);

  for (const [index, relocs] of edits.keptRelocs) {
    const h = headers[index]!;
    if (h.type !== C.SHT_RELA) fail(`section ${index} is not SHT_RELA`);
    if (relocs.length * C.RELA_SIZE > h.size) fail(`section ${index} would grow`);
    relocs.forEach((r, i) => writeRela(out, h.offset + i * C.RELA_SIZE, r));
    out.fill(0, h.offset + relocs.length * C.RELA_SIZE, h.offset + h.size);
    h.size = relocs.length * C.RELA_SIZE;
  }
  for (const [index, data] of edits.contents) {
    const h = headers[index]!;
    if (h.type === C.SHT_NOBITS || data.length > h.size) fail(`section ${index} contents cannot be replaced in place`);
    data.copy(out, h.offset);
    out.fill(0, h.offset + data.length, h.offset + h.size);
    h.size = data.length;
  }
  for (const [index, flags] of edits.flags) headers[index]!.flags = flags;

  for (const s of edits.newRelaSections) {
    const data = Buffer.alloc(s.relocs.length * C.RELA_SIZE);
    s.relocs.forEach((r, i) => writeRela(data, i * C.RELA_SIZE, r));
    headers.push({ name: shstr.add(s.name), type: C.SHT_RELA, flags: s.flags, addr: 0, offset: 0, size: data.length, link: symtab!.index, info: s.target, addralign: 8, entsize: C.RELA_SIZE });
    appended.push({ index: headers.length - 1, data, align: 8 });
  }
  appended.push({ index: shstrndx, data: shstr.data(), align: 1 });
  if (headers.length >= C.SHN_LORESERVE) fail(`${headers.length} sections need extended section numbering`);

  const chunks: Buffer[] = [out];
  let end = out.length;
  for (const a of appended) {
    const at = align(end, a.align);
    if (at > end) chunks.push(Buffer.alloc(at - end));
    chunks.push(a.data);
    headers[a.index]!.offset = at;
    headers[a.index]!.size = a.data.length;
    end = at + a.data.length;
  }
  const shoff = align(end, 8);
  if (shoff > end) chunks.push(Buffer.alloc(shoff - end));
  const table = Buffer.alloc(headers.length * C.SHDR_SIZE);
  headers.forEach((h, i) => {
    const o = i * C.SHDR_SIZE;
    table.writeUInt32LE(h.name, o);
    table.writeUInt32LE(h.type, o + 4);
    table.writeBigUInt64LE(BigInt(h.flags), o + 8);
    table.writeBigUInt64LE(BigInt(h.addr), o + 16);
    table.writeBigUInt64LE(BigInt(h.offset), o + 24);
    table.writeBigUInt64LE(BigInt(h.size), o + 32);
    table.writeUInt32LE(h.link, o + 40);
    table.writeUInt32LE(h.info, o + 44);
    table.writeBigUInt64LE(BigInt(h.addralign), o + 48);
    table.writeBigUInt64LE(BigInt(h.entsize), o + 56);
  });
  chunks.push(table);
  const result = Buffer.concat(chunks);
  result.writeBigUInt64LE(BigInt(shoff), 40);
  result.writeUInt16LE(headers.length, 60);
  return result;
}

import { readFileSync, writeFileSync } from 'node:fs';
import { elfConstants as C, readElf, type ElfFile } from '@klp-split/kernel-facts';
import { recordForgedModule } from '../helpers/forged-module.js';

/**
 * Test-side edits of a `.ko` that `klp-split build` wrote: the faults its
 * relocation writer refuses to produce (a malformed `.klp.sym` or `.klp.rela`
 * name, a position it knows is wrong, a symbol not SHN_LIVEPATCH) stand for a
 * broken tool's output. Every edit keeps the file's layout: a string is
 * replaced by one of the same length in place, or one symbol's st_shndx is
 * rewritten, or one relocation section's sh_info. Offsets come from the
 * project's ELF reader.
 */
export type RelocEdit =
  /** A symbol's name in .strtab (its whole name, same length). */
  | { kind: 'symbol-name'; from: string; to: string }
  /** A section's name in .shstrtab (its whole name, same length). */
  | { kind: 'section-name'; from: string; to: string }
  /** One symbol's st_shndx (e.g. SHN_ABS instead of SHN_LIVEPATCH); `unreadable`: one the reader refuses (not checked after). */
  | { kind: 'symbol-shndx'; symbol: string; shndx: number; unreadable?: true }
  /** A relocation section's sh_info: the section its entries apply to, given by name (their offsets become 0, inside it). */
  | { kind: 'section-info'; section: string; info: string }
  /** One entry of a relocation section (by index): its r_offset and/or its type. */
  | { kind: 'rela'; section: string; index: number; offset?: number; type?: number }
  /** One byte of a section's contents. */
  | { kind: 'byte'; section: string; offset: number; value: number };

const SYM_SIZE = 24;
const SHDR_SIZE = 64;
/** Offset of sh_info in an Elf64_Shdr. */
const SH_INFO = 44;
const RELA_SIZE = 24;

function symtabOf(elf: ElfFile): { offset: number; strtab: number } {
  const symtab = elf.sections.find((s) => s.type === C.SHT_SYMTAB);
  if (!symtab) throw new Error(`${elf.path}: no symbol table`);
  return { offset: symtab.offset, strtab: elf.sections[symtab.link]!.offset };
}

function replaceString(buf: Buffer, at: number, from: string, to: string, what: string): void {
  if (from.length !== to.length) throw new Error(`${what}: '${from}' -> '${to}' changes the length`);
  if (buf.toString('latin1', at, at + from.length + 1) !== `${from}\0`) throw new Error(`${what}: '${from}' is not at offset ${at}`);
  buf.write(to, at, 'latin1');
}

export function applyRelocEdit(file: string, edit: RelocEdit): void {
  const buf = readFileSync(file);
  const elf = readElf(buf, file);
  if (edit.kind === 'rela' || edit.kind === 'byte') {
    const sec = elf.sections.find((s) => s.name === edit.section);
    if (!sec) throw new Error(`${file}: no section '${edit.section}'`);
    if (edit.kind === 'byte') buf[sec.offset + edit.offset] = edit.value;
    else {
      const at = sec.offset + edit.index * RELA_SIZE;
      if (edit.offset !== undefined) buf.writeBigUInt64LE(BigInt(edit.offset), at);
      if (edit.type !== undefined) buf.writeUInt32LE(edit.type, at + 8);
    }
    // Such a file may be one the reader refuses: that is what these edits test.
    writeFileSync(file, buf);
    recordForgedModule(file);
    return;
  }
  if (edit.kind === 'section-info') {
    const sec = elf.sections.find((s) => s.name === edit.section);
    const info = elf.sections.find((s) => s.name === edit.info);
    if (!sec || !info) throw new Error(`${file}: no section '${sec ? edit.info : edit.section}'`);
    buf.writeUInt32LE(info.index, elf.header.shoff + sec.index * SHDR_SIZE + SH_INFO);
    for (let at = sec.offset; at < sec.offset + sec.size; at += RELA_SIZE) buf.writeBigUInt64LE(0n, at);
  } else if (edit.kind === 'section-name') {
    const sec = elf.sections.find((s) => s.name === edit.from);
    if (!sec) throw new Error(`${file}: no section '${edit.from}'`);
    const nameOffset = buf.readUInt32LE(elf.header.shoff + sec.index * SHDR_SIZE);
    replaceString(buf, elf.sections[elf.header.shstrndx]!.offset + nameOffset, edit.from, edit.to, file);
  } else {
    const name = edit.kind === 'symbol-name' ? edit.from : edit.symbol;
    const syms = elf.symbols.filter((s) => s.name === name);
    if (syms.length !== 1) throw new Error(`${file}: ${syms.length} symbols named '${name}', expected one`);
    const { offset, strtab } = symtabOf(elf);
    const entry = offset + syms[0]!.index * SYM_SIZE;
    if (edit.kind === 'symbol-name') replaceString(buf, strtab + buf.readUInt32LE(entry), edit.from, edit.to, file);
    else buf.writeUInt16LE(edit.shndx, entry + 6);
  }
  writeFileSync(file, buf);
  recordForgedModule(file);
  if (edit.kind === 'symbol-shndx' && edit.unreadable) return;
  // The edit did what it says: the reader sees the new name or index.
  const after = readElf(readFileSync(file), file);
  const ok =
    edit.kind === 'section-info'
      ? after.relocations.some((r) => r.section.name === edit.section && r.target.name === edit.info)
      : edit.kind === 'section-name'
      ? after.sections.some((s) => s.name === edit.to)
      : edit.kind === 'symbol-name'
        ? after.symbols.some((s) => s.name === edit.to)
        : after.symbols.some((s) => s.name === edit.symbol && s.shndx === edit.shndx);
  if (!ok) throw new Error(`${file}: the edit ${JSON.stringify(edit)} did not take`);
}

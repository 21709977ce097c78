/** ELF constants used by the reader (System V gABI, x86-64 psABI, kernel livepatch ELF rules). */
export const ELFCLASS64 = 2;
export const ELFDATA2LSB = 1;
export const ET_REL = 1;
export const EM_X86_64 = 62;

export const SHN_UNDEF = 0;
export const SHN_LORESERVE = 0xff00;
export const SHN_LIVEPATCH = 0xff20;
export const SHN_HIRESERVE = 0xffff;
export const SHN_ABS = 0xfff1;
export const SHN_COMMON = 0xfff2;
export const SHN_XINDEX = 0xffff;

export const SHT_NULL = 0;
export const SHT_PROGBITS = 1;
export const SHT_SYMTAB = 2;
export const SHT_STRTAB = 3;
export const SHT_RELA = 4;
export const SHT_NOBITS = 8;
export const SHT_REL = 9;
export const SHT_SYMTAB_SHNDX = 18;

export const SHF_WRITE = 0x1;
export const SHF_ALLOC = 0x2;
export const SHF_EXECINSTR = 0x4;
export const SHF_RELA_LIVEPATCH = 0x00100000;

export const STB_LOCAL = 0;
export const STB_GLOBAL = 1;
export const STB_WEAK = 2;

export const STT_NOTYPE = 0;
export const STT_OBJECT = 1;
export const STT_FUNC = 2;
export const STT_SECTION = 3;
export const STT_FILE = 4;

export const R_X86_64_NONE = 0;
export const R_X86_64_64 = 1;
export const R_X86_64_PC32 = 2;
export const R_X86_64_PLT32 = 4;
export const R_X86_64_32 = 10;
export const R_X86_64_32S = 11;
export const R_X86_64_PC64 = 24;

export const RELOC_NAMES: Record<number, string> = {
  0: 'R_X86_64_NONE',
  1: 'R_X86_64_64',
  2: 'R_X86_64_PC32',
  4: 'R_X86_64_PLT32',
  10: 'R_X86_64_32',
  11: 'R_X86_64_32S',
  24: 'R_X86_64_PC64',
};

/**
 * Bytes each x86-64 relocation type writes (the psABI's field of that type),
 * for every type an object file may hold; a type not listed has no known
 * field. Only the types in LOADER_RELOC_TYPES reach a module's memory: 6.1's
 * apply_relocate_add() refuses every other one.
 */
export const RELOC_FIELD_BYTES: Readonly<Record<number, number>> = {
  0: 0, // NONE
  1: 8, // 64
  2: 4, // PC32
  3: 4, // GOT32
  4: 4, // PLT32
  5: 0, // COPY (no field: dynamic linking only)
  6: 8, // GLOB_DAT
  7: 8, // JUMP_SLOT
  8: 8, // RELATIVE
  9: 4, // GOTPCREL
  10: 4, // 32
  11: 4, // 32S
  12: 2, // 16
  13: 2, // PC16
  14: 1, // 8
  15: 1, // PC8
  16: 8, // DTPMOD64
  17: 8, // DTPOFF64
  18: 8, // TPOFF64
  19: 4, // TLSGD
  20: 4, // TLSLD
  21: 4, // DTPOFF32
  22: 4, // GOTTPOFF
  23: 4, // TPOFF32
  24: 8, // PC64
  25: 8, // GOTOFF64
  26: 4, // GOTPC32
  27: 8, // GOT64
  28: 8, // GOTPCREL64
  29: 8, // GOTPC64
  30: 8, // GOTPLT64
  31: 8, // PLTOFF64
  32: 4, // SIZE32
  33: 8, // SIZE64
  34: 4, // GOTPC32_TLSDESC
  35: 0, // TLSDESC_CALL
  36: 16, // TLSDESC
  37: 8, // IRELATIVE
  38: 8, // RELATIVE64
  41: 4, // GOTPCRELX
  42: 4, // REX_GOTPCRELX
};

/** The types arch/x86/kernel/module.c's __apply_relocate_add() of 6.1 handles; any other is "Unknown rela relocation". */
export const LOADER_RELOC_TYPES: ReadonlySet<number> = new Set([R_X86_64_NONE, R_X86_64_64, R_X86_64_PC32, R_X86_64_PLT32, R_X86_64_32, R_X86_64_32S, R_X86_64_PC64]);

export const EHDR_SIZE = 64;
export const SHDR_SIZE = 64;
export const SYM_SIZE = 24;
export const RELA_SIZE = 24;

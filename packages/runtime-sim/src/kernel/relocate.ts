import * as C from '../elf/constants.js';
import type { ElfSection } from '../elf/reader.js';
import type { ModuleImage } from '../image/module-image.js';

/**
 * Applying a module's relocations at a simulated load address, with the
 * x86-64 semantics of apply_relocate_add() and its overflow checks, and the
 * livepatch ELF rules for `.klp.rela.<obj>.<section>` / `.klp.sym.<obj>.<sym>,<pos>`
 * (Documentation/livepatch/module-elf-format.rst).
 */
export interface RelocationFinding {
  code: string;
  message: string;
}

export interface SymbolResolver {
  /** Address of an exported symbol (vmlinux or a loaded module); undefined if none. */
  exported(name: string): bigint | undefined;
  /**
   * Address of the `pos`-th symbol `name` of object `obj` in kallsyms order
   * (pos 0: must be unique); a finding when it is missing or ambiguous.
   */
  objectSymbol(obj: string, name: string, pos: number): bigint | RelocationFinding;
}

export interface RelocationResult {
  applied: number;
  findings: RelocationFinding[];
  /** Where each SHF_ALLOC section was placed. */
  sectionAddress: Map<number, bigint>;
  /** The first relocation applied: its type and S + A (what the kernel prints about it). */
  first?: { type: number; value: bigint };
}

/** The limits of the kernel's klp parsing (`%55[^.]` for the object, `%511[^,]` for the symbol). */
const KLP_SYM = /^\.klp\.sym\.([^.]{1,55})\.([^,]{1,511}),(\d+)$/;
const KLP_RELA = /^\.klp\.rela\.([^.]{1,55})\..+$/;

const S32_MIN = -(2n ** 31n);
const S32_MAX = 2n ** 31n - 1n;
const U32_MAX = 2n ** 32n - 1n;

/** Lays out the allocated sections from `base`, honouring their alignment. */
export function layoutSections(image: ModuleImage, base: bigint): Map<number, bigint> {
  const addresses = new Map<number, bigint>();
  let at = base;
  for (const s of image.elf.sections) {
    if (!(s.flags & C.SHF_ALLOC) || (s.flags & C.SHF_RELA_LIVEPATCH) !== 0) continue;
    const align = BigInt(Math.max(1, s.addralign));
    at = ((at + align - 1n) / align) * align;
    addresses.set(s.index, at);
    at += BigInt(s.size);
  }
  return addresses;
}

export interface ApplyOptions {
  /**
   * Which objects' `.klp.rela.<obj>.*` sections to apply now (default: all,
   * as a split kernel does when the per-object module loads). The stock
   * kernel applies only vmlinux's at load and a module's when that module
   * comes (klp_init_object_loaded()): see applyKlpObjectRelocations().
   */
  klpObject?: (obj: string) => boolean;
}

export function applyRelocations(image: ModuleImage, base: bigint, resolver: SymbolResolver, opts: ApplyOptions = {}): RelocationResult {
  const sectionAddress = layoutSections(image, base);
  return { ...applySections(image, sectionAddress, resolver, (klpObj) => klpObj === undefined || !opts.klpObject || opts.klpObject(klpObj)), sectionAddress };
}

/** The livepatch relocations of one object, into a module already placed (upstream klp_apply_object_relocs()). */
export function applyKlpObjectRelocations(image: ModuleImage, sectionAddress: Map<number, bigint>, obj: string, resolver: SymbolResolver): Omit<RelocationResult, 'sectionAddress'> {
  return applySections(image, sectionAddress, resolver, (klpObj, klpSection) => klpSection && klpObj === obj);
}

/** Names of the objects whose `.klp.rela` sections a module has. */
export function klpRelaObjects(image: ModuleImage): Set<string> {
  const out = new Set<string>();
  for (const rs of image.elf.relocations) {
    const obj = rs.section.flags & C.SHF_RELA_LIVEPATCH ? KLP_RELA.exec(rs.section.name)?.[1] : undefined;
    if (obj) out.add(obj);
  }
  return out;
}

function applySections(
  image: ModuleImage,
  sectionAddress: Map<number, bigint>,
  resolver: SymbolResolver,
  select: (klpObj: string | undefined, klpSection: boolean) => boolean,
): Omit<RelocationResult, 'sectionAddress'> {
  const findings: RelocationFinding[] = [];
  const seen = new Set<string>();
  const find = (code: string, message: string): void => {
    if (seen.has(message)) return;
    seen.add(message);
    findings.push({ code, message });
  };
  let applied = 0;
  let first: RelocationResult['first'];
  for (const rs of image.elf.relocations) {
    const target = rs.target;
    const klpSection = (rs.section.flags & C.SHF_RELA_LIVEPATCH) !== 0;
    const klpObj = klpSection ? KLP_RELA.exec(rs.section.name)?.[1] : undefined;
    if (!select(klpObj, klpSection)) continue;
    if (klpSection && !klpObj) find('klp-rela-name', `livepatch relocation section '${rs.section.name}' is not named .klp.rela.<objname>.<section>`);
    const targetAddress = sectionAddress.get(target.index);
    if (targetAddress === undefined) continue; // debug info and other unloaded sections
    for (const r of rs.relocs) {
      if (r.type === C.R_X86_64_NONE) continue;
      const sym = image.elf.symbols[r.symIndex]!;
      let S: bigint | undefined;
      if (sym.shndx === C.SHN_LIVEPATCH) {
        const m = KLP_SYM.exec(sym.name);
        if (!m) {
          find('klp-sym-name', `livepatch symbol '${sym.name}' is not .klp.sym.<objname>.<symbol>,<sympos>`);
          continue;
        }
        if (!klpSection) {
          find('klp-sym-outside-klp-rela', `'${sym.name}' is used by '${rs.section.name}', which is not a livepatch relocation section`);
          continue;
        }
        // Upstream forbids vmlinux symbols in a module's livepatch relocations: use normal relocations to its exports.
        if (m[1] === 'vmlinux' && klpObj !== 'vmlinux') {
          find('klp-vmlinux-sym-in-module-section', `'${sym.name}' in module section '${rs.section.name}': refer to vmlinux with a normal relocation`);
          continue;
        }
        const v = resolver.objectSymbol(m[1]!, m[2]!, Number(m[3]));
        if (typeof v !== 'bigint') {
          find(v.code, v.message);
          continue;
        }
        S = v;
      } else if (sym.shndx === C.SHN_UNDEF) {
        S = resolver.exported(sym.name);
        if (S === undefined) {
          find('unresolved-symbol', `'${sym.name}' is neither exported by vmlinux nor by a loaded module`);
          continue;
        }
      } else if (sym.shndx === C.SHN_ABS) {
        S = BigInt(sym.value);
      } else {
        const base = sectionAddress.get(sym.shndx);
        if (base === undefined) {
          find('relocation-to-unloaded-section', `relocation in '${target.name}' refers to section ${sym.shndx}, which is not loaded`);
          continue;
        }
        S = base + (sym.type === C.STT_SECTION ? 0n : BigInt(sym.value));
      }
      const problem = checkValue(r.type, S, r.addend, targetAddress + BigInt(r.offset));
      if (problem) find(problem.code, `${problem.message} at ${target.name}+0x${r.offset.toString(16)} (${sym.name || sectionName(image, sym.shndx)})`);
      else {
        applied++;
        first ??= { type: r.type, value: BigInt.asUintN(64, S + r.addend) };
      }
    }
  }
  return { applied, findings, first };
}

function sectionName(image: ModuleImage, index: number): string {
  return (image.elf.sections[index] as ElfSection | undefined)?.name ?? `section ${index}`;
}

/** The value written for one relocation, checked as apply_relocate_add() does. */
function checkValue(type: number, S: bigint, A: bigint, P: bigint): RelocationFinding | undefined {
  const name = C.RELOC_NAMES[type] ?? `type ${type}`;
  const overflow = (v: bigint): RelocationFinding => ({ code: 'relocation-overflow', message: `overflow in relocation ${name} value 0x${BigInt.asUintN(64, v).toString(16)}` });
  const toSigned = (v: bigint): bigint => BigInt.asIntN(64, v);
  switch (type) {
    case C.R_X86_64_64:
    case C.R_X86_64_PC64:
      return undefined;
    case C.R_X86_64_32: {
      const v = BigInt.asUintN(64, S + A);
      return v > U32_MAX ? overflow(v) : undefined;
    }
    case C.R_X86_64_32S: {
      const v = toSigned(S + A);
      return v < S32_MIN || v > S32_MAX ? overflow(v) : undefined;
    }
    case C.R_X86_64_PC32:
    case C.R_X86_64_PLT32: {
      const v = toSigned(S + A - P);
      return v < S32_MIN || v > S32_MAX ? overflow(v) : undefined;
    }
    default:
      return { code: 'unsupported-relocation', message: `relocation type ${type} is not supported by the x86-64 module loader` };
  }
}

import { elfConstants as C, scanKlpRelaName, scanKlpSymName } from '@klp-split/kernel-facts';
import type { ElfRela, ElfRelocSection, ElfSection } from '@klp-split/kernel-facts';
import type { ModuleImage } from '../image/module-image.js';
import { EINVAL, ENOENT, ENOEXEC } from './errno.js';

/**
 * Applying a module's relocations at a simulated load address, with the
 * x86-64 semantics of apply_relocate_add() and its overflow checks, and the
 * livepatch ELF rules for `.klp.rela.<obj>.<section>` / `.klp.sym.<obj>.<sym>,<pos>`
 * (Documentation/livepatch/module-elf-format.rst).
 */
interface RelocationFinding {
  code: string;
  /** For the livepatch rules, the line the kernel prints (without its `livepatch: ` prefix). */
  message: string;
  /** The errno the kernel's loader fails with (klp_apply_section_relocs(): -EINVAL; apply_relocate_add(): -ENOEXEC). */
  errno?: number;
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

interface RelocationResult {
  applied: number;
  findings: RelocationFinding[];
  /** Where each SHF_ALLOC section was placed. */
  sectionAddress: Map<number, bigint>;
  /** The first relocation applied: its type and S + A (what the kernel prints about it). */
  first?: { type: number; value: bigint };
}

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

interface ApplyOptions {
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
    const obj = rs.section.flags & C.SHF_RELA_LIVEPATCH ? scanKlpRelaName(rs.section.name) : undefined;
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
  const find = (code: string, message: string, errno = ENOEXEC): void => {
    if (seen.has(message)) return;
    seen.add(message);
    findings.push({ code, message, errno });
  };
  let applied = 0;
  let first: RelocationResult['first'];
  for (const rs of image.elf.relocations) {
    const target = rs.target;
    const klpSection = (rs.section.flags & C.SHF_RELA_LIVEPATCH) !== 0;
    const klpObj = klpSection ? scanKlpRelaName(rs.section.name) : undefined;
    if (!select(klpObj, klpSection)) continue;
    const targetAddress = sectionAddress.get(target.index);
    if (targetAddress === undefined) continue; // debug info and other unloaded sections (apply_relocations() skips them too)
    let values: (bigint | undefined)[];
    if (klpSection) {
      // klp_apply_section_relocs(): the name, then every symbol (klp_resolve_symbols()), then the writes; the first error ends the load.
      if (!klpObj) {
        find('klp-rela-name', `section ${rs.section.name} has an incorrectly formatted name`, EINVAL);
        return { applied, findings, first };
      }
      const resolved = resolveKlpSymbols(image, rs.relocs, klpObj, resolver);
      if (!Array.isArray(resolved)) {
        find(resolved.code, resolved.message, EINVAL);
        return { applied, findings, first };
      }
      values = resolved;
    } else {
      values = rs.relocs.map((r) => normalSymbolValue(image, rs, r, sectionAddress, resolver, find));
    }
    rs.relocs.forEach((r, i) => {
      const S = values[i];
      if (r.type === C.R_X86_64_NONE || S === undefined) return;
      const sym = image.elf.symbols[r.symIndex]!;
      const problem = checkValue(r.type, S, r.addend, targetAddress + BigInt(r.offset));
      if (problem) find(problem.code, `${problem.message} at ${target.name}+0x${r.offset.toString(16)} (${sym.name || sectionName(image, sym.shndx)})`);
      else {
        applied++;
        first ??= { type: r.type, value: BigInt.asUintN(64, S + r.addend) };
      }
    });
    if (klpSection && findings.length) return { applied, findings, first };
  }
  return { applied, findings, first };
}

/** klp_resolve_symbols() on one `.klp.rela.<obj>.*` section: each symbol's value, or the first finding in the kernel's words. */
function resolveKlpSymbols(image: ModuleImage, relocs: readonly ElfRela[], secObj: string, resolver: SymbolResolver): bigint[] | RelocationFinding {
  const values: bigint[] = [];
  for (const r of relocs) {
    const sym = image.elf.symbols[r.symIndex]!;
    if (sym.shndx !== C.SHN_LIVEPATCH) return { code: 'klp-sym-not-livepatch', message: `symbol ${sym.name} is not marked as a livepatch symbol` };
    const m = scanKlpSymName(sym.name);
    if (!m) return { code: 'klp-sym-name', message: `symbol ${sym.name} has an incorrectly formatted name` };
    // Since 5.8 a module's section may not reach vmlinux: a normal relocation to an export does (ordering of special sections).
    if (m.object === 'vmlinux' && secObj !== 'vmlinux') {
      return { code: 'klp-vmlinux-sym-in-module-section', message: `invalid access to vmlinux symbol '${m.symbol}' from module-specific livepatch relocation section` };
    }
    const v = resolver.objectSymbol(m.object, m.symbol, m.sympos);
    if (typeof v !== 'bigint') return v;
    values.push(v);
  }
  return values;
}

/** S of a relocation in an ordinary section (simplify_symbols() resolved it), or undefined with a finding. */
function normalSymbolValue(
  image: ModuleImage,
  rs: ElfRelocSection,
  r: ElfRela,
  sectionAddress: Map<number, bigint>,
  resolver: SymbolResolver,
  find: (code: string, message: string, errno?: number) => void,
): bigint | undefined {
  const sym = image.elf.symbols[r.symIndex]!;
  if (r.type === C.R_X86_64_NONE) return undefined;
  if (sym.shndx === C.SHN_LIVEPATCH) {
    find('klp-sym-outside-klp-rela', `'${sym.name}' is used by '${rs.section.name}', which is not a livepatch relocation section`);
    return undefined;
  }
  if (sym.shndx === C.SHN_UNDEF) {
    const S = resolver.exported(sym.name);
    if (S === undefined) find('unresolved-symbol', `'${sym.name}' is neither exported by vmlinux nor by a loaded module`, ENOENT);
    return S;
  }
  if (sym.shndx === C.SHN_ABS) return BigInt(sym.value);
  const base = sectionAddress.get(sym.shndx);
  if (base === undefined) {
    find('relocation-to-unloaded-section', `relocation in '${rs.target.name}' refers to section ${sym.shndx}, which is not loaded`);
    return undefined;
  }
  return base + (sym.type === C.STT_SECTION ? 0n : BigInt(sym.value));
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

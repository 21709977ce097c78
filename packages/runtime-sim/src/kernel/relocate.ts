import { elfConstants as C, scanKlpRelaName, scanKlpSymName, sectionData } from '@klp-split/kernel-facts';
import type { ElfRela, ElfRelocSection, ElfSection } from '@klp-split/kernel-facts';
import type { ModuleImage } from '../image/module-image.js';
import { EINVAL, ENOENT, ENOEXEC } from './errno.js';

/**
 * Applying a module's relocations at a simulated load address, with the
 * x86-64 semantics of apply_relocate_add() and its overflow checks, and the
 * livepatch ELF rules for `.klp.rela.<obj>.<section>` / `.klp.sym.<obj>.<sym>,<pos>`
 * (Documentation/livepatch/module-elf-format.rst).
 */
export interface RelocationFinding {
  code: string;
  /** For the livepatch rules, the line the kernel prints (without its `livepatch: ` prefix). */
  message: string;
  /** The errno the kernel's loader fails with (klp_apply_section_relocs(): -EINVAL; apply_relocate_add(): -ENOEXEC). */
  errno?: number;
  /** The kernel's log lines, whole, when they are not `livepatch: <message>` or `<module>: <message>`. */
  lines?: string[];
  /** The object a livepatch relocation names (section or symbol), when the finding is about one. */
  object?: string;
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
  /**
   * Values the kernel writes without a word although they do not fit (6.1
   * checks no PC32/PLT32 overflow: `#if 0` in __apply_relocate_add()): the
   * module loads with those references wrong.
   */
  truncated: RelocationFinding[];
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
  /**
   * The split kernel's rule (kernel/patches/0005, klp_module_carries()):
   * a `.klp.rela.<obj>.*` section other than vmlinux's loads only in the
   * module named `<patch>__<obj>`. Set for a split kernel's loads.
   */
  carriesOnly?: boolean;
}

/** The kernel's log lines for a relocation finding (livepatch's for its rules, else the module loader's). */
export function relocationLines(module: string, f: RelocationFinding): string[] {
  return f.lines ?? [f.errno === EINVAL ? `livepatch: ${f.message}` : `${module}: ${f.message}`];
}

/** klp_module_carries(): is `module` named `<patch>__<obj>` (a non-empty patch name before the `__`)? */
function moduleCarries(module: string, obj: string): boolean {
  return module.length > obj.length + 2 && module.endsWith(`__${obj}`);
}

/** The line the split kernel refuses a `.klp.rela.<obj>.*` section with in a module that does not carry `<obj>`. */
function notCarriedMessage(section: string, module: string, obj: string): string {
  return `section ${section} of module '${module}': only the per-object module '<patch>__${obj}' may relocate against '${obj}'`;
}

export function applyRelocations(image: ModuleImage, base: bigint, resolver: SymbolResolver, opts: ApplyOptions = {}): RelocationResult {
  const sectionAddress = layoutSections(image, base);
  const select = (klpObj: string | undefined): boolean => klpObj === undefined || !opts.klpObject || opts.klpObject(klpObj);
  return { ...applySections(image, sectionAddress, resolver, select, opts.carriesOnly === true), sectionAddress };
}

/** The livepatch relocations of one object, into a module already placed (upstream klp_apply_object_relocs()). */
export function applyKlpObjectRelocations(image: ModuleImage, sectionAddress: Map<number, bigint>, obj: string, resolver: SymbolResolver): Omit<RelocationResult, 'sectionAddress'> {
  return applySections(image, sectionAddress, resolver, (klpObj, klpSection) => klpSection && klpObj === obj, false);
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
  carriesOnly: boolean,
): Omit<RelocationResult, 'sectionAddress'> {
  const findings: RelocationFinding[] = [];
  const truncated: RelocationFinding[] = [];
  const seen = new Set<string>();
  const find = (code: string, message: string, errno = ENOEXEC, lines?: string[], object?: string): void => {
    if (seen.has(message)) return;
    seen.add(message);
    findings.push({ code, message, errno, ...(lines ? { lines } : {}), ...(object !== undefined ? { object } : {}) });
  };
  // Each section's bytes as this load has written them so far: the loader refuses a field that is not 0.
  const memory = new Map<number, Buffer>();
  const bytesOf = (s: ElfSection): Buffer => {
    let b = memory.get(s.index);
    if (!b) memory.set(s.index, (b = Buffer.from(sectionData(image.elf, s))));
    return b;
  };
  let applied = 0;
  let first: RelocationResult['first'];
  const done = (): Omit<RelocationResult, 'sectionAddress'> => ({ applied, findings, first, truncated });
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
        return done();
      }
      if (carriesOnly && klpObj !== 'vmlinux' && !moduleCarries(image.name, klpObj)) {
        find('klp-rela-not-carried', notCarriedMessage(rs.section.name, image.name, klpObj), EINVAL, undefined, klpObj);
        return done();
      }
      const resolved = resolveKlpSymbols(image, rs.relocs, klpObj, resolver);
      if (!Array.isArray(resolved)) {
        find(resolved.code, resolved.message, EINVAL, undefined, resolved.object);
        return done();
      }
      values = resolved;
    } else {
      values = rs.relocs.map((r) => normalSymbolValue(image, rs, r, sectionAddress, resolver, find));
    }
    for (const [i, r] of rs.relocs.entries()) {
      const S = values[i];
      if (r.type === C.R_X86_64_NONE) continue;
      const sym = image.elf.symbols[r.symIndex]!;
      const where = ` at ${target.name}+0x${r.offset.toString(16)} (${sym.name || sectionName(image, sym.shndx)})`;
      // __apply_relocate_add() refuses an unknown type before it looks at the symbol.
      if (!C.LOADER_RELOC_TYPES.has(r.type)) {
        find('unknown-relocation-type', `Unknown rela relocation: ${r.type}${where}`, ENOEXEC, [`module: ${image.name}: Unknown rela relocation: ${r.type}`]);
        return done();
      }
      if (S === undefined) continue;
      const w = write(bytesOf(target), r, S, targetAddress + BigInt(r.offset));
      if (w.problem) {
        find(w.problem.code, `${w.problem.message}${where}`, ENOEXEC, w.problem.lines?.map((l) => l.replace('<module>', image.name)));
        return done();
      }
      if (w.truncated) truncated.push({ code: w.truncated.code, message: `${w.truncated.message}${where}` });
      applied++;
      first ??= { type: r.type, value: BigInt.asUintN(64, S + r.addend) };
    }
    // apply_relocations() stops at the first section that fails.
    if (findings.length) return done();
  }
  return done();
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
    if (typeof v !== 'bigint') return { ...v, object: m.object };
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

/**
 * One relocation written into the section's bytes as 6.1's
 * __apply_relocate_add() does: the field must still be 0 (else "Skipping
 * invalid relocation target"), 32 and 32S are checked for overflow after the
 * write, PC32/PLT32 are not (the kernel's check is `#if 0`): a value that
 * does not fit is written truncated, silently.
 */
function write(mem: Buffer, r: ElfRela, S: bigint, P: bigint): { problem?: RelocationFinding; truncated?: RelocationFinding } {
  const val = BigInt.asUintN(64, S + r.addend);
  const width = C.RELOC_FIELD_BYTES[r.type]!;
  const existing = width === 8 ? mem.readBigUInt64LE(r.offset) : BigInt(mem.readUInt32LE(r.offset));
  if (existing !== 0n) {
    return {
      problem: {
        code: 'relocation-target-nonzero',
        message: `existing value is nonzero for type ${r.type} (the field holds 0x${existing.toString(16)})`,
        lines: [`module: x86/modules: Skipping invalid relocation target, existing value is nonzero for type ${r.type}, loc (____ptrval____), val ${val.toString(16)}`],
      },
    };
  }
  const pcRelative = r.type === C.R_X86_64_PC32 || r.type === C.R_X86_64_PLT32 || r.type === C.R_X86_64_PC64;
  const written = BigInt.asUintN(64, pcRelative ? val - P : val);
  if (width === 8) mem.writeBigUInt64LE(written, r.offset);
  else mem.writeUInt32LE(Number(BigInt.asUintN(32, written)), r.offset);
  const signed = BigInt.asIntN(64, written);
  const overflow: RelocationFinding = {
    code: 'relocation-overflow',
    message: `overflow in relocation type ${r.type} val ${val.toString(16)}`,
    lines: [`module: overflow in relocation type ${r.type} val ${val.toString(16)}`, "module: `<module>' likely not compiled with -mcmodel=kernel"],
  };
  switch (r.type) {
    case C.R_X86_64_32:
      return written > U32_MAX ? { problem: overflow } : {};
    case C.R_X86_64_32S:
      return signed < S32_MIN || signed > S32_MAX ? { problem: overflow } : {};
    case C.R_X86_64_PC32:
    case C.R_X86_64_PLT32:
      return signed < S32_MIN || signed > S32_MAX
        ? { truncated: { code: 'relocation-truncated', message: `${C.RELOC_NAMES[r.type]} value 0x${written.toString(16)} does not fit in 32 bits: 6.1 writes it truncated without a word` } }
        : {};
    default:
      return {};
  }
}

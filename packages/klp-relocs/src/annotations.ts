import { elfConstants as C, sectionData, type ElfFile, KLP_ANNOTATION_PREFIX, KLP_MODULE_RELOCS_PREFIX, parseAnnotationName } from '@klp-split/kernel-facts';

/**
 * What the author said about a symbol's object and position, read back from
 * the linked module:
 * - `extern T sym KLP_RELOC_SYMBOL_POS(lp_obj, sym_obj, sym, pos);` makes
 *   the compiler reference the assembler name
 *   `.klp.sym.rela.<lp_obj>.<sym_obj>.<sym>,<pos>` (an undefined symbol);
 * - klp-convert's `KLP_MODULE_RELOC(obj) x[] = { KLP_SYMPOS(sym, pos) }`
 *   places `struct klp_module_reloc { void *sym; unsigned int sympos; }
 *   __packed` entries in `.klp.module_relocs.<obj>`: an R_X86_64_64
 *   relocation names the symbol, the 4 bytes after it give the position.
 */
export interface Annotation {
  /** Index of the undefined symbol it applies to. */
  symIndex: number;
  /** The symbol as the author named it in C. */
  symbol: string;
  symObject: string;
  /** The object whose `.klp.rela` section gets the relocations; undefined: decided by the converter. */
  lpObject?: string;
  sympos: number;
  form: 'KLP_RELOC_SYMBOL' | 'KLP_MODULE_RELOC';
  /** The `.klp.module_relocs.*` section holding a KLP_MODULE_RELOC entry. */
  section?: number;
}

const MODULE_RELOC_SIZE = 12;

interface AnnotationProblem {
  symbol: string;
  message: string;
  code: string;
  /** The annotation's form, so the diagnostic points at the annotation rather than the symbol's first mention. */
  form?: Annotation['form'];
}

export function readAnnotations(elf: ElfFile): { annotations: Annotation[]; problems: AnnotationProblem[] } {
  const annotations: Annotation[] = [];
  const problems: AnnotationProblem[] = [];
  for (const s of elf.symbols) {
    if (s.shndx !== C.SHN_UNDEF || !s.name.startsWith(KLP_ANNOTATION_PREFIX)) continue;
    const a = parseAnnotationName(s.name);
    if (!a) {
      problems.push({ symbol: s.name, code: 'klp-annotation-malformed', message: `'${s.name}' is not .klp.sym.rela.<lp_obj>.<sym_obj>.<symbol>,<pos> (object names cannot contain '.')` });
      continue;
    }
    annotations.push({ symIndex: s.index, symbol: a.symbol, symObject: a.symObject, lpObject: a.lpObject, sympos: a.sympos, form: 'KLP_RELOC_SYMBOL' });
  }
  for (const sec of elf.sections) {
    if (!sec.name.startsWith(KLP_MODULE_RELOCS_PREFIX)) continue;
    const object = sec.name.slice(KLP_MODULE_RELOCS_PREFIX.length);
    const data = sectionData(elf, sec);
    if (data.length % MODULE_RELOC_SIZE !== 0) {
      problems.push({ symbol: sec.name, code: 'klp-annotation-malformed', message: `section '${sec.name}' is ${data.length} bytes, not a whole number of ${MODULE_RELOC_SIZE}-byte struct klp_module_reloc entries` });
      continue;
    }
    const rels = elf.relocations.find((r) => r.target.index === sec.index)?.relocs ?? [];
    for (const r of rels) {
      const sym = elf.symbols[r.symIndex]!;
      if (r.offset % MODULE_RELOC_SIZE !== 0 || r.type !== C.R_X86_64_64) {
        problems.push({ symbol: sym.name, code: 'klp-annotation-malformed', message: `relocation at ${sec.name}+${r.offset} is not the .sym pointer of a struct klp_module_reloc` });
        continue;
      }
      if (sym.shndx !== C.SHN_UNDEF) {
        const name = definedName(elf, sym, r.addend);
        problems.push({ symbol: name, form: 'KLP_MODULE_RELOC', code: 'klp-annotation-defined-symbol', message: `KLP_SYMPOS(${name}, ...) names a symbol this module defines; only undefined symbols are resolved by the livepatch core` });
        continue;
      }
      annotations.push({ symIndex: sym.index, symbol: sym.name, symObject: object, sympos: data.readUInt32LE(r.offset + 8), form: 'KLP_MODULE_RELOC', section: sec.index });
    }
  }
  return { annotations, problems };
}

/**
 * The name of what a relocation points at in this module: a static variable
 * is reached through its section's symbol (no name) plus its offset, so the
 * name is the symbol defined there.
 */
function definedName(elf: ElfFile, sym: ElfFile['symbols'][number], addend: bigint): string {
  if (sym.type !== C.STT_SECTION && sym.name) return sym.name;
  const at = sym.type === C.STT_SECTION ? Number(addend) : sym.value;
  const named = elf.symbols.find((s) => s.shndx === sym.shndx && s.value === at && s.name && s.type !== C.STT_SECTION && s.type !== C.STT_FILE);
  return named?.name ?? `${elf.sections[sym.shndx]?.name ?? `section ${sym.shndx}`}+${at}`;
}

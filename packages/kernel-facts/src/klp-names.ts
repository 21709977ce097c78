/**
 * The names the livepatch core parses (kernel/livepatch/core.c of 6.1):
 * sections `.klp.rela.%55[^.]` and symbols `.klp.sym.%55[^.].%511[^,],%lu`,
 * plus the assembler names the KLP_RELOC_SYMBOL annotation produces.
 */

/** MODULE_NAME_LEN - 1 on 64-bit: the kernel's %55 field width for an object name. */
const OBJECT_NAME_WIDTH = 55;
/** KSYM_NAME_LEN - 1 (6.1 raised KSYM_NAME_LEN to 512): the %511 field width for a symbol name. */
const SYMBOL_NAME_WIDTH = 511;

const KLP_RELA_PREFIX = '.klp.rela.';
const KLP_SYM_PREFIX = '.klp.sym.';
/** What `KLP_RELOC_SYMBOL_POS(lp_obj, sym_obj, sym, pos)` makes the compiler reference. */
export const KLP_ANNOTATION_PREFIX = '.klp.sym.rela.';
/** klp-convert's `KLP_MODULE_RELOC(obj)` arrays live in sections of this prefix. */
export const KLP_MODULE_RELOCS_PREFIX = '.klp.module_relocs.';

export function klpRelaName(object: string, section: string): string {
  return `${KLP_RELA_PREFIX}${object}${section.startsWith('.') ? '' : '.'}${section}`;
}

export function klpSymName(object: string, symbol: string, sympos: number): string {
  return `${KLP_SYM_PREFIX}${object}.${symbol},${sympos}`;
}

/** Why `object` cannot be a livepatch object name, or undefined. */
export function objectNameProblem(object: string): string | undefined {
  if (object === '') return 'the object name is empty';
  if (object.includes('.')) return `object name '${object}' contains '.', which ends the kernel's %55[^.] field`;
  if (object.length > OBJECT_NAME_WIDTH) return `object name '${object}' is ${object.length} characters; the kernel reads at most ${OBJECT_NAME_WIDTH}`;
  return undefined;
}

/** Why `symbol` cannot be a livepatch symbol name, or undefined. */
export function symbolNameProblem(symbol: string): string | undefined {
  if (symbol === '') return 'the symbol name is empty';
  if (symbol.includes(',')) return `symbol name '${symbol}' contains ',', which ends the kernel's %511[^,] field`;
  if (symbol.length > SYMBOL_NAME_WIDTH) return `symbol name '${symbol.slice(0, 40)}...' is ${symbol.length} characters; the kernel reads at most ${SYMBOL_NAME_WIDTH}`;
  return undefined;
}

interface KlpSymName {
  object: string;
  symbol: string;
  sympos: number;
}

/** The kernel's `%55[^.]` and `%511[^,]` fields, one definition for every reader below. */
const OBJECT_FIELD = `([^.]{1,${OBJECT_NAME_WIDTH}})`;
const SYMBOL_FIELD = `([^,]{1,${SYMBOL_NAME_WIDTH}})`;
/** `.klp.sym.%55[^.].%511[^,],%lu`: %lu takes leading blanks and a '+' (a '-' is not modelled: malformed), what follows the number is ignored. */
const KERNEL_SYM = new RegExp(`^\\.klp\\.sym\\.${OBJECT_FIELD}\\.${SYMBOL_FIELD},\\s*\\+?(\\d+)`);
/** The same fields, the number in decimal and nothing after it: the form klpSymName() writes. */
const EXACT_SYM = new RegExp(`^\\.klp\\.sym\\.${OBJECT_FIELD}\\.${SYMBOL_FIELD},(\\d+)$`);
/** `.klp.rela.%55[^.]`: the object is the first 55 characters up to a '.', whatever follows. */
const KERNEL_RELA = new RegExp(`^\\.klp\\.rela\\.${OBJECT_FIELD}`);
const RELA_WITH_SECTION = new RegExp(`^\\.klp\\.rela\\.${OBJECT_FIELD}\\.`);

function symName(m: RegExpExecArray | null): KlpSymName | undefined {
  return m ? { object: m[1]!, symbol: m[2]!, sympos: Number(m[3]) } : undefined;
}

/** What the livepatch core's sscanf() reads from a symbol name (klp_resolve_symbols()), or undefined where it fails. */
export function scanKlpSymName(name: string): KlpSymName | undefined {
  return symName(KERNEL_SYM.exec(name));
}

/** `.klp.sym.<obj>.<sym>,<pos>` exactly: fields the kernel reads, a decimal position and nothing after it. */
export function parseKlpSymName(name: string): KlpSymName | undefined {
  return symName(EXACT_SYM.exec(name));
}

/** The object of a `.klp.rela.` section name as the kernel's `%55[^.]` reads it (klp_apply_section_relocs()). */
export function scanKlpRelaName(name: string): string | undefined {
  return KERNEL_RELA.exec(name)?.[1];
}

/** `.klp.rela.<obj>.<section>` -> obj: the kernel's field followed by the section's name. */
export function parseKlpRelaName(name: string): string | undefined {
  return RELA_WITH_SECTION.exec(name)?.[1];
}

interface RelocAnnotationName {
  /** The object whose `.klp.rela` section carries the relocation. */
  lpObject: string;
  /** The object the symbol lives in. */
  symObject: string;
  symbol: string;
  sympos: number;
}

/**
 * `.klp.sym.rela.<lp_obj>.<sym_obj>.<sym>,<pos>`; the symbol may contain
 * dots (`name.constprop.0`), the object names cannot.
 */
export function parseAnnotationName(name: string): RelocAnnotationName | undefined {
  const m = /^\.klp\.sym\.rela\.([^.]+)\.([^.]+)\.([^,]+),(\d+)$/.exec(name);
  if (!m) return undefined;
  return { lpObject: m[1]!, symObject: m[2]!, symbol: m[3]!, sympos: Number(m[4]) };
}

/** Module names as the kernel spells them: `-` becomes `_`. */
export function moduleName(name: string): string {
  return name.replace(/-/g, '_');
}

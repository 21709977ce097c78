/**
 * The livepatch relocation annotations authors write (klp-convert's two
 * forms), which say the object a symbol belongs to and its position there:
 * - `extern T sym KLP_RELOC_SYMBOL_POS(lp_obj, sym_obj, sym, pos);` (and
 *   KLP_RELOC_SYMBOL without the position) after a declarator;
 * - `KLP_MODULE_RELOC(sym_obj) name[] = { KLP_SYMPOS(sym, pos), ... };`.
 * The C grammar knows neither: both are masked for the parser (the text
 * stays byte for byte in every part) and read back here.
 */

export const RELOC_SYMBOL_RE = /\bKLP_RELOC_SYMBOL(_POS)?\s*\(([^()]*)\)/g;
export const MODULE_RELOC_RE = /\bKLP_MODULE_RELOC\s*\(([^()]*)\)/g;
export const SYMPOS_RE = /\bKLP_SYMPOS\s*\(\s*([A-Za-z_]\w*)\s*,\s*([^()]*?)\s*\)/g;

const blank = (s: string): string => s.replace(/[^\n]/g, ' ');

/**
 * For the parser only, with every offset and newline kept: the annotation
 * after a declarator becomes blanks, `KLP_MODULE_RELOC(obj)` a plain type
 * (`int`), so the array parses as a variable with its initializer.
 */
export function maskRelocAnnotations(source: string): string {
  if (!source.includes('KLP_')) return source;
  return source.replace(RELOC_SYMBOL_RE, blank).replace(MODULE_RELOC_RE, (m) => 'int'.padEnd(m.length, ' '));
}

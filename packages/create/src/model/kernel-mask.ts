/**
 * Kernel idioms the C grammar cannot read, rewritten before parsing into
 * text of exactly the same length (newlines kept), so every offset and
 * line the parse reports still points into the original. The splitter's
 * masking (annotations, SYSCALL_DEFINEn, list_for_each_*, DEFINE_*) runs
 * after this one.
 *
 * - a type as a macro argument (`container_of(p, struct foo, m)`,
 *   `min_t(unsigned int, a, b)`) becomes one identifier (`struct_foo`);
 * - iteration macros (`*for_each*(...)`, `scoped_*(...)`) become `while`.
 */

const TYPE_ARG_RE = /([(,][ \t]*)((?:struct|union|enum|unsigned|signed|const|long|short)(?:[ \t]+[A-Za-z_]\w*)+)(?=[ \t]*[,)])/g;
const LOOP_RE = /\b(?:[a-z0-9_]*for_each[a-z0-9_]*|scoped_[a-z0-9_]+)(?=\s*\()/g;

export function maskKernelIdioms(text: string): string {
  return text
    .replace(TYPE_ARG_RE, (_m, lead: string, type: string) => lead + type.replace(/[ \t]+/g, (ws) => '_'.repeat(ws.length)))
    .replace(LOOP_RE, (m) => (m.length >= 5 ? 'while'.padEnd(m.length, ' ') : m));
}

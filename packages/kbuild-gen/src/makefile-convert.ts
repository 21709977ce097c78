/**
 * Convert an existing kernel Makefile/Kbuild so it also builds the per-object
 * modules (`<patch>__<object>.o`) of its livepatches.
 *
 * The conversion is purely additive: after each `obj-…` assignment that lists
 * a livepatch, one `<same variable> += <per-object>.o` line is inserted per
 * per-object module. Every other byte of the file is kept as it was, so
 * deleting the added lines gives back the original text. Input is LF text.
 */

export interface ConvertedLivepatch {
  /** kbuild object of the livepatch as written in the Makefile, e.g. 'livepatch-shadow-fix1.o' */
  object: string;
  /** per-object module objects to add, e.g. ['livepatch-shadow-fix1__livepatch-shadow-mod.o'] */
  perObject: string[];
  /** A per-object module built from several files: its object to their objects (a `<module>-y` line after its obj- line). */
  composites?: Record<string, string[]>;
}

export interface MakefileEdit {
  /** The converted text. */
  text: string;
  /** Inserted lines: 1-based line number in `text`, and the line without its newline. */
  added: { line: number; text: string }[];
  /** Livepatch objects listed in no `obj-` assignment (text unchanged for them). */
  missing: string[];
}

/** One make statement: physical lines `first..last` joined by backslash continuations. */
interface Statement {
  first: number;
  last: number;
}

/** An `obj-<cond> <op> <objects>` assignment found in a statement. */
interface ObjAssignment {
  statement: Statement;
  /** Leading whitespace of the first line, reused so insertions inside indented blocks line up. */
  indent: string;
  /** `obj-m`, `obj-y`, `obj-$(CONFIG_FOO)`, ... exactly as written. */
  variable: string;
  objects: string[];
}

/**
 * Only the kbuild goal variables: `obj-y`, `obj-m`, `obj-n`, `obj-` and
 * `obj-$(CONFIG_…)` / `obj-${CONFIG_…}`. Being this strict keeps composite
 * definitions (`foo-y`, `foo-objs`, even a module named `obj-foo`) out.
 */
const OBJ_ASSIGNMENT =
  /^(\s*)(obj-(?:[ymn]|\$\([^()\s]*\)|\$\{[^{}\s]*\})?)\s*(?:\+=|::=|:=|\?=|=)(.*)$/;

/**
 * Group physical lines into statements: make joins a line ending in a
 * backslash with the next one (comments included), so a multi-object
 * assignment is a single statement however many lines it spans.
 */
function statementsOf(lines: string[]): Statement[] {
  const statements: Statement[] = [];
  for (let first = 0; first < lines.length; ) {
    let last = first;
    while (last + 1 < lines.length && (lines[last] ?? '').endsWith('\\')) last++;
    statements.push({ first, last });
    first = last + 1;
  }
  return statements;
}

/**
 * The statement as make reads it: continuations become spaces and a `#`
 * starts a comment up to the end of the statement, so objects written after
 * it are not listed.
 */
function logicalText(lines: string[], s: Statement): string {
  const joined = lines
    .slice(s.first, s.last + 1)
    .map((line, i, all) => (i < all.length - 1 ? line.slice(0, -1) : line))
    .join(' ');
  const hash = joined.indexOf('#');
  return hash < 0 ? joined : joined.slice(0, hash);
}

/** The statement as an `obj-` assignment, or undefined for anything else. */
function objAssignmentOf(lines: string[], s: Statement): ObjAssignment | undefined {
  const m = OBJ_ASSIGNMENT.exec(logicalText(lines, s));
  if (!m) return undefined;
  const [, indent = '', variable = '', value = ''] = m;
  return { statement: s, indent, variable, objects: value.split(/\s+/).filter(Boolean) };
}

/**
 * The lines to insert after one assignment: for each livepatch it lists (in
 * the order the assignment lists them), its per-object modules that are not
 * yet listed anywhere, each once.
 */
function insertionsFor(
  a: ObjAssignment,
  livepatches: ConvertedLivepatch[],
  alreadyListed: Set<string>,
): string[] {
  const objects: string[] = [];
  const composites = new Map<string, string[]>();
  for (const listed of a.objects) {
    for (const lp of livepatches.filter((l) => l.object === listed)) {
      for (const o of lp.perObject) {
        if (!alreadyListed.has(o) && !objects.includes(o)) objects.push(o);
        const parts = lp.composites?.[o];
        if (parts) composites.set(o, parts);
      }
    }
  }
  return objects.flatMap((o) => {
    const parts = composites.get(o);
    const line = `${a.indent}${a.variable} += ${o}`;
    return parts ? [line, `${a.indent}${o.replace(/\.o$/, '')}-y := ${parts.join(' ')}`] : [line];
  });
}

/**
 * Add per-object module lines after every `obj-` assignment listing a
 * livepatch. Idempotent: a per-object module already listed in any `obj-`
 * assignment is not added again.
 *
 * @param generatedBy Tool/command description; reserved for a future header,
 *   the inserted lines themselves carry no comment so they read like the rest.
 */
export function convertMakefile(
  text: string,
  livepatches: ConvertedLivepatch[],
  generatedBy: string,
): MakefileEdit {
  void generatedBy;
  // A final newline leaves an empty last "line", so insertions land before it
  // and the newline stays last. Only a file ending in a dangling backslash
  // continues into that empty line; inserting after it is what keeps the new
  // line out of the statement (the text then ends without a newline).
  const lines = text.split('\n');

  const assignments = statementsOf(lines)
    .map((s) => objAssignmentOf(lines, s))
    .filter((a): a is ObjAssignment => a !== undefined);
  const listed = new Set(assignments.flatMap((a) => a.objects));

  const insertAfter = new Map<number, string[]>();
  for (const a of assignments) {
    const toInsert = insertionsFor(a, livepatches, listed);
    if (toInsert.length > 0) insertAfter.set(a.statement.last, toInsert);
  }

  const out: string[] = [];
  const added: MakefileEdit['added'] = [];
  lines.forEach((line, i) => {
    out.push(line);
    // A last line that ends in a backslash with no newline after it would
    // continue into the first inserted line: an empty line ends the statement.
    if (insertAfter.has(i) && line.endsWith('\\')) {
      out.push('');
      added.push({ line: out.length, text: '' });
    }
    for (const inserted of insertAfter.get(i) ?? []) {
      out.push(inserted);
      added.push({ line: out.length, text: inserted });
    }
  });

  const missing = [...new Set(livepatches.map((l) => l.object))].filter((o) => !listed.has(o));
  return { text: out.join('\n'), added, missing };
}

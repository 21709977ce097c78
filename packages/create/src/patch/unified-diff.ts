import { KlpError } from '@klp-split/core';

/**
 * A unified diff as `git format-patch`, `git diff` and `diff -up` write it:
 * any text before, between and after the file sections (mail headers, the
 * commit message, a diffstat, `diff --git` and `index` lines, the signature)
 * is skipped; a file section starts at a `--- ` line directly followed by a
 * `+++ ` line; each hunk is read by the counts of its `@@` header, so a
 * `---` in the commit message or in a removed line never starts a file.
 */

export interface HunkLine {
  /** ' ' context, '-' only in the old text, '+' only in the new text. */
  op: ' ' | '-' | '+';
  text: string;
}

export interface Hunk {
  /** 1-based number of the hunk within its file, as messages name it. */
  number: number;
  /** The `@@ -a,b +c,d @@ ...` line. */
  header: string;
  /** Its 1-based line in the patch file. */
  patchLine: number;
  oldStart: number;
  oldCount: number;
  newStart: number;
  newCount: number;
  lines: HunkLine[];
  /** `\ No newline at end of file` after the old (resp. new) side's last line. */
  oldNoNewline: boolean;
  newNoNewline: boolean;
}

export interface FilePatch {
  /** The patch file it comes from, as the user named it. */
  patchFile: string;
  /** 1-based line of its `--- ` line in the patch file. */
  patchLine: number;
  /** Paths as written after `--- ` and `+++ ` (timestamps removed); `/dev/null` for a new or deleted file. */
  oldPath: string;
  newPath: string;
  hunks: Hunk[];
}

/** A patch file that is not a unified diff klp-split can read (exit 2). */
export class PatchFormatError extends KlpError {
  constructor(message: string, file: string, line: number, hint?: string) {
    super(message, { code: 'patch-malformed', file, line, col: 1, hint });
  }
}

const HUNK_HEADER = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/;

/** `--- a/fs/x.c\t2024-01-01 ...` -> `a/fs/x.c`; git's quoted names are refused. */
function pathOf(line: string, prefix: string, file: string, lineNo: number): string {
  let rest = line.slice(prefix.length);
  const tab = rest.indexOf('\t');
  if (tab >= 0) rest = rest.slice(0, tab);
  rest = rest.trimEnd();
  if (rest.startsWith('"')) throw new PatchFormatError(`quoted file name ${rest} (a name with special characters) is not supported`, file, lineNo);
  if (!rest) throw new PatchFormatError(`'${prefix.trim()}' line without a file name`, file, lineNo);
  return rest;
}

/** Parses every file section of a unified diff; `file` names the patch in errors. */
export function parseUnifiedDiff(text: string, file: string): FilePatch[] {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const out: FilePatch[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!.replace(/\r$/, '');
    if (line.startsWith('GIT binary patch') || /^Binary files .* differ$/.test(line)) {
      throw new PatchFormatError('binary patches cannot be applied to C sources', file, i + 1);
    }
    if (!(line.startsWith('--- ') && lines[i + 1]?.startsWith('+++ '))) {
      i++;
      continue;
    }
    const fp: FilePatch = { patchFile: file, patchLine: i + 1, oldPath: pathOf(line, '--- ', file, i + 1), newPath: pathOf(lines[i + 1]!.replace(/\r$/, ''), '+++ ', file, i + 2), hunks: [] };
    i += 2;
    while (i < lines.length && lines[i]!.startsWith('@@')) {
      const hunk = readHunk(lines, i, fp.hunks.length + 1, file);
      fp.hunks.push(hunk.hunk);
      i = hunk.next;
    }
    if (!fp.hunks.length) throw new PatchFormatError(`no hunk after the file header of ${fp.newPath}`, file, fp.patchLine);
    out.push(fp);
  }
  if (!out.length) throw new PatchFormatError('no unified diff in this file (no "--- " line followed by "+++ ")', file, 0, 'give a patch made by git format-patch, git diff or diff -up');
  return out;
}

function readHunk(lines: string[], at: number, number: number, file: string): { hunk: Hunk; next: number } {
  const header = lines[at]!.replace(/\r$/, '');
  const m = HUNK_HEADER.exec(header);
  if (!m) throw new PatchFormatError(`malformed hunk header '${header}'`, file, at + 1);
  const hunk: Hunk = {
    number,
    header,
    patchLine: at + 1,
    oldStart: Number(m[1]),
    oldCount: m[2] === undefined ? 1 : Number(m[2]),
    newStart: Number(m[3]),
    newCount: m[4] === undefined ? 1 : Number(m[4]),
    lines: [],
    oldNoNewline: false,
    newNoNewline: false,
  };
  let oldLeft = hunk.oldCount;
  let newLeft = hunk.newCount;
  let i = at + 1;
  let last: HunkLine['op'] | undefined;
  while (i < lines.length && (oldLeft > 0 || newLeft > 0 || lines[i]!.startsWith('\\'))) {
    const raw = lines[i]!;
    if (raw.startsWith('\\')) {
      // "\ No newline at end of file" belongs to the line before it.
      if (last === '-' || last === ' ') hunk.oldNoNewline = true;
      if (last === '+' || last === ' ') hunk.newNoNewline = true;
      i++;
      continue;
    }
    if (oldLeft === 0 && newLeft === 0) break;
    // An empty line inside a hunk is a context line whose trailing space an editor or mailer removed.
    const op = raw === '' ? ' ' : raw[0];
    if (op !== ' ' && op !== '-' && op !== '+') {
      throw new PatchFormatError(`hunk #${number} (${header}) ends early: ${oldLeft} old and ${newLeft} new lines still expected, found '${raw.slice(0, 40)}'`, file, i + 1, 'was the patch edited by hand? regenerate it, or fix the counts in the @@ line');
    }
    if (op !== '+') oldLeft--;
    if (op !== '-') newLeft--;
    if (oldLeft < 0 || newLeft < 0) throw new PatchFormatError(`hunk #${number} (${header}) has more lines than its header counts`, file, i + 1);
    hunk.lines.push({ op, text: raw.slice(1).replace(/\r$/, '') });
    last = op;
    i++;
  }
  if (oldLeft > 0 || newLeft > 0) throw new PatchFormatError(`hunk #${number} (${header}) is cut short at the end of the patch`, file, i);
  return { hunk, next: i };
}

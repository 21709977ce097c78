import type { Diagnostic } from '@klp-split/core';
import type { FilePatch, Hunk } from './unified-diff.js';

/**
 * Applies one file's hunks to its text, as `patch --fuzz=0` does: each hunk's
 * old lines (context and removed) must match exactly, at the line its header
 * names shifted by what earlier hunks added or removed, or elsewhere in the
 * file (nearest first). Nothing is written: the result is the new text, and
 * for every line of it where it came from in the patch.
 */

/** A line of the patch file. */
export interface PatchOrigin {
  file: string;
  line: number;
  /** A '+' line (the fix wrote it), not context. */
  added: boolean;
}

export interface ApplyResult {
  text: string;
  /** Per line of the new text (index 0 is line 1): the patch line that wrote it ('+', or context), else what `oldOrigin` said. */
  origin: (PatchOrigin | undefined)[];
  /** 1-based old-text lines each hunk matched at, in hunk order (offset diagnostics). */
  matchedAt: number[];
}

function splitText(text: string): { lines: string[]; finalNewline: boolean } {
  if (text === '') return { lines: [], finalNewline: true };
  const finalNewline = text.endsWith('\n');
  const lines = text.split('\n');
  if (finalNewline) lines.pop();
  return { lines, finalNewline };
}

function matchesAt(lines: string[], old: string[], at: number): boolean {
  if (at < 0 || at + old.length > lines.length) return false;
  for (let k = 0; k < old.length; k++) if (lines[at + k] !== old[k]) return false;
  return true;
}

/** Where the hunk's old lines are, nearest to `want` first, not before `from` (hunks apply in order). */
function locate(lines: string[], old: string[], want: number, from: number): number | undefined {
  // An insertion at the very start or end of a file has no old lines.
  if (!old.length) return Math.min(Math.max(want, from), lines.length);
  for (let d = 0; d <= lines.length; d++) {
    if (want - d >= from && matchesAt(lines, old, want - d)) return want - d;
    if (matchesAt(lines, old, want + d) && want + d >= from) return want + d;
    if (want - d < from && want + d > lines.length) break;
  }
  return undefined;
}

/** The file's new text, or one diagnostic per hunk that does not apply (named by number and header). */
export function applyFilePatch(fp: FilePatch, oldText: string, shownPath: string, oldOrigin: (PatchOrigin | undefined)[] = []): ApplyResult | { failed: Diagnostic[] } {
  const { lines, finalNewline } = splitText(oldText);
  const out: string[] = [];
  const origin: (PatchOrigin | undefined)[] = [];
  const matchedAt: number[] = [];
  const failed: Diagnostic[] = [];
  let cursor = 0;
  // How far the old text has moved from where the headers say (patch's "offset"): it carries to later hunks.
  let drift = 0;
  let newFinalNewline = finalNewline;
  for (const hunk of fp.hunks) {
    const old = hunk.lines.filter((l) => l.op !== '+').map((l) => l.text);
    const want = Math.max(0, (hunk.oldCount === 0 ? hunk.oldStart : hunk.oldStart - 1) + drift);
    const at = locate(lines, old, want, cursor);
    if (at === undefined) {
      failed.push(hunkFailure(fp, hunk, shownPath, lines));
      continue;
    }
    for (; cursor < at; cursor++) {
      out.push(lines[cursor]!);
      origin.push(oldOrigin[cursor]);
    }
    let patchLine = hunk.patchLine;
    let oldLine = at;
    for (const l of hunk.lines) {
      patchLine++;
      if (l.op === '+') {
        out.push(l.text);
        origin.push({ file: fp.patchFile, line: patchLine, added: true });
      } else if (l.op === ' ') {
        out.push(l.text);
        origin.push(oldOrigin[oldLine] ?? { file: fp.patchFile, line: patchLine, added: false });
      }
      if (l.op !== '+') oldLine++;
    }
    cursor = at + old.length;
    drift += at - want;
    matchedAt.push(at + 1);
    if (cursor >= lines.length) newFinalNewline = !hunk.newNoNewline;
  }
  if (failed.length) return { failed };
  for (; cursor < lines.length; cursor++) {
    out.push(lines[cursor]!);
    origin.push(oldOrigin[cursor]);
  }
  const text = out.length ? out.join('\n') + (newFinalNewline ? '\n' : '') : '';
  return { text, origin, matchedAt };
}

function hunkFailure(fp: FilePatch, hunk: Hunk, shownPath: string, lines: string[]): Diagnostic {
  const added = hunk.lines.filter((l) => l.op !== '-').map((l) => l.text);
  const alreadyApplied = added.length > 0 && lines.some((_, i) => matchesAt(lines, added, i));
  const firstOld = hunk.lines.find((l) => l.op !== '+');
  const why = alreadyApplied
    ? 'its new lines are already there: is the fix already in this source?'
    : firstOld
      ? `its old lines (from '${firstOld.text.trim().slice(0, 60)}') are not in ${shownPath} as the patch has them: was the fix made against another version?`
      : `line ${hunk.oldStart} is past the end of ${shownPath}`;
  return {
    file: fp.patchFile,
    line: hunk.patchLine,
    col: 1,
    severity: 'error',
    code: 'patch-hunk-failed',
    message: `hunk #${hunk.number} of ${shownPath} (${hunk.header}) does not apply: ${why}`,
  };
}

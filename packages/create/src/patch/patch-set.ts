import { posix } from 'node:path';
import { KlpError } from '@klp-split/core';
import type { Diagnostic } from '@klp-split/core';
import type { KernelSource } from '../source/kernel-source.js';
import { applyFilePatch, type PatchOrigin } from './apply.js';
import { parseUnifiedDiff, type FilePatch } from './unified-diff.js';

/** One file of the kernel tree as the fix leaves it. */
export interface PatchedFile {
  /** Tree-relative path (`fs/proc/cmdline.c`). */
  path: string;
  /** Its text before the fix; undefined for a file the fix adds. */
  before?: string;
  /** Its text after; undefined for a file the fix deletes. */
  after?: string;
  /** Per line of `after` (index 0 is line 1): the patch line that wrote it. */
  origin: (PatchOrigin | undefined)[];
}

export interface PatchInput {
  /** The patch file as the user named it (messages). */
  file: string;
  text: string;
}

const DEV_NULL = '/dev/null';

function strip(path: string, level: number): string | undefined {
  const parts = path.split('/').filter((p, i) => p !== '' || i === 0);
  if (level >= parts.length) return undefined;
  return posix.normalize(parts.slice(level).join('/'));
}

/**
 * The `-p` level of a patch: the smallest number of leading components to
 * remove so that every file it changes or deletes exists in the tree, and
 * every file it adds has an existing directory (as `patch` guesses, but
 * checked for all files at once).
 */
export function stripLevel(files: FilePatch[], source: KernelSource, patchFile: string): number {
  for (let level = 0; level <= 4; level++) {
    const ok = files.every((fp) => {
      const adds = fp.oldPath === DEV_NULL;
      const p = strip(adds ? fp.newPath : fp.oldPath, level);
      if (!p || p.startsWith('..') || posix.isAbsolute(p)) return false;
      return adds ? source.isDir(posix.dirname(p)) : source.isFile(p);
    });
    if (ok) return level;
  }
  const first = files[0]!;
  throw new KlpError(`no -p level (0 to 4) makes the files of this patch exist in ${source.root} (first: ${first.oldPath === DEV_NULL ? first.newPath : first.oldPath})`, {
    code: 'patch-paths-unknown',
    file: patchFile,
    line: first.patchLine,
    hint: 'is the patch for this kernel tree? give the tree with --src',
  });
}

/**
 * Applies the patches in order to copies of the files they touch (a file
 * touched by two patches gets both). Failed hunks are collected, each named
 * by file and hunk, and nothing else is done with a file that has one.
 */
export function applyPatches(inputs: PatchInput[], source: KernelSource): { files: PatchedFile[]; diagnostics: Diagnostic[] } {
  const files = new Map<string, PatchedFile>();
  const diagnostics: Diagnostic[] = [];
  for (const input of inputs) {
    const filePatches = parseUnifiedDiff(input.text, input.file);
    const level = stripLevel(filePatches, source, input.file);
    for (const fp of filePatches) {
      const adds = fp.oldPath === DEV_NULL;
      const deletes = fp.newPath === DEV_NULL;
      const path = strip(adds || deletes ? (adds ? fp.newPath : fp.oldPath) : fp.newPath, level)!;
      // The confinement check itself (a '../' name is refused before anything is read).
      source.path(path, 'file named by the patch', { file: input.file, line: fp.patchLine });
      if (!adds && !deletes && strip(fp.oldPath, level) !== path) {
        throw new KlpError(`the patch renames ${strip(fp.oldPath, level)} to ${path}; create patches functions, not file names`, { code: 'patch-rename', file: input.file, line: fp.patchLine });
      }
      const prev = files.get(path);
      const oldText = prev ? prev.after : adds ? '' : source.read(path);
      if (oldText === undefined) {
        diagnostics.push({ file: input.file, line: fp.patchLine, col: 1, severity: 'error', code: 'patch-hunk-failed', message: `${path} does not exist ${prev ? 'after the earlier patch deleted it' : 'in the tree'}` });
        continue;
      }
      const applied = applyFilePatch(fp, oldText, path, prev?.origin);
      if ('failed' in applied) {
        diagnostics.push(...applied.failed);
        continue;
      }
      files.set(path, {
        path,
        before: prev ? prev.before : adds ? undefined : oldText,
        after: deletes ? undefined : applied.text,
        origin: applied.origin,
      });
    }
  }
  return { files: [...files.values()], diagnostics };
}

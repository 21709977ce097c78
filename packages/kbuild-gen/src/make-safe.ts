import { KlpError } from '@klp-split/core';

/**
 * What klp-split may hand to make. kbuild pastes M=, the tree's path and
 * the object names of a Kbuild file into make text and into its recipes'
 * shell commands unquoted: make splits words at spaces and reads `$`, `#`,
 * `,`, `%` and `:`; the shell reads quotes, `;`, `&`, `|`, backquotes,
 * `$(...)`, redirections and globs. A directory named
 * ``x`touch PWNED`x`` would run that command in the middle of a build. So
 * a path or name with anything else is refused before make starts, with
 * the character that makes it unusable.
 */

/** A directory or kernel tree the build cannot start from: an input or environment error (exit 2). */
export class BuildSetupError extends KlpError {
  constructor(message: string, code: string) {
    super(message, { code });
  }
}

/** Letters and digits of any script, and the few punctuation marks neither make nor a shell reads. */
const SAFE_PATH = /^[\p{L}\p{N}\p{M}/._+~@-]+$/u;
/** An object of a Kbuild file: a file name (or a path below the build directory) ending in .o. */
const SAFE_OBJECT = /^[A-Za-z0-9_+-][A-Za-z0-9_.+/-]*\.o$/;

const shownChar = (ch: string): string => (/^[\x21-\x7e]$/.test(ch) && ch !== "'" ? `'${ch}'` : JSON.stringify(ch));

/** Refuses a path kbuild would split or pass to a shell as syntax. `what` names it in the message. */
export function checkMakePath(path: string, what: string): void {
  if (SAFE_PATH.test(path)) return;
  const ch = [...path].find((c) => !SAFE_PATH.test(c)) ?? path;
  throw new BuildSetupError(
    `${what} ${JSON.stringify(path)} has ${shownChar(ch)}, which make or the shell commands of kbuild would read as syntax; kbuild can only build in a path of letters, digits and . _ + ~ @ - /`,
    'make-unsafe-path',
  );
}

/** Refuses an object name that a generated Kbuild file would carry into make as syntax. */
export function checkKbuildObject(object: string): void {
  if (SAFE_OBJECT.test(object) && !object.split('/').includes('..')) return;
  throw new BuildSetupError(`cannot name ${JSON.stringify(object.replace(/\.o$/, '.c'))} in a Kbuild file: a module's file names must be letters, digits and _ - + (make reads anything else as syntax); rename the file`, 'make-unsafe-name');
}

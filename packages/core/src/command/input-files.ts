import { statSync } from 'node:fs';
import { EXIT_USAGE, KlpError } from '../errors.js';

/**
 * Checks a file named on the command line before any reader sees it: a
 * directory given for a .ko, a scenario, a Module.symvers or a Makefile is a
 * usage error naming the option and the path (exit 2), not a read failure
 * deep inside a reader, a make error counted as a finding, or a hang.
 */
export function requireRegularFile(command: string, what: string, path: string): void {
  let kind: string;
  let code = 'input-not-file';
  try {
    const st = statSync(path);
    if (st.isFile()) return;
    kind = st.isDirectory() ? 'is a directory' : 'is not a regular file';
  } catch (e) {
    const errno = (e as NodeJS.ErrnoException).code;
    kind = errno === 'ENOENT' ? 'does not exist' : `cannot be read (${errno ?? (e as Error).message})`;
    code = errno === 'ENOENT' ? 'input-missing' : 'input-unreadable';
  }
  throw new KlpError(`${command}: ${what} ${kind}`, { code, file: path, exit: EXIT_USAGE });
}

/** The same for a file that may be absent (a directory's Makefile), checked only when something is there. */
export function requireRegularFileIfPresent(command: string, what: string, path: string): void {
  try {
    statSync(path);
  } catch {
    return;
  }
  requireRegularFile(command, what, path);
}

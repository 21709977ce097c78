import { statSync } from 'node:fs';
import { UsageError } from './exit-codes.js';

/**
 * Checks a file named on the command line before any reader sees it: a
 * directory given for a .ko, a scenario, a Module.symvers or a Makefile is a
 * usage error naming the option and the path (exit 2), not a read failure
 * deep inside a reader, a make error counted as a finding, or a hang.
 */
export function requireRegularFile(command: string, what: string, path: string): void {
  let kind: string;
  try {
    const st = statSync(path);
    if (st.isFile()) return;
    kind = st.isDirectory() ? 'is a directory' : 'is not a regular file';
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    kind = code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? (e as Error).message})`;
  }
  throw new UsageError(`${command}: ${what} ${path} ${kind}`);
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

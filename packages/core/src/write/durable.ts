import { closeSync, fsyncSync, openSync, writeSync, constants } from 'node:fs';

/** Writes a new file and flushes it to disk before returning: a rename after it never exposes a short file. */
export function writeFileDurably(path: string, content: Buffer): void {
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
  try {
    let off = 0;
    while (off < content.length) off += writeSync(fd, content, off, content.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Flushes a directory's entries (renames, creations, removals in it). */
export function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
    fsyncSync(fd);
  } catch {
    // Some file systems refuse fsync on a directory; the data itself was synced.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

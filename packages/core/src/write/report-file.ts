import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { KlpError } from '../errors.js';

function writeAll(fd: number, data: Buffer): void {
  for (let off = 0; off < data.length; ) off += writeSync(fd, data, off, data.length - off);
}

/**
 * Writes a report file whole or not at all: into a temporary file beside it,
 * then renamed over it, so a full disk or an interrupted run never leaves a
 * truncated report that a CI step would read as a (passing) result. The
 * temporary file is removed on failure. A report path that is a device or a
 * FIFO (/dev/stdout) is written directly: renaming over it would replace it.
 */
export function writeReportFile(path: string, text: string, what = 'report'): void {
  const data = Buffer.from(text, 'utf8');
  const fail = (e: unknown): never => {
    const err = e as NodeJS.ErrnoException;
    throw new KlpError(`cannot write the ${what}: ${err.code ?? err.message}; nothing written`, { code: 'report-write', file: path, cause: e });
  };
  let existing: ReturnType<typeof statSync> | undefined;
  try {
    existing = statSync(path);
  } catch {
    existing = undefined;
  }
  if (existing?.isDirectory()) throw new KlpError(`the ${what} path is a directory`, { code: 'report-write', file: path });
  if (existing && !existing.isFile()) {
    try {
      const fd = openSync(path, 'w');
      try {
        writeAll(fd, data);
      } finally {
        closeSync(fd);
      }
    } catch (e) {
      fail(e);
    }
    return;
  }
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    mkdirSync(dirname(path), { recursive: true });
    const fd = openSync(tmp, 'wx');
    try {
      writeAll(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    fail(e);
  }
}

import { closeSync, fstatSync, openSync, readSync, constants } from 'node:fs';
import { KlpError, fromSystemError, isSystemError } from './errors.js';

/** The largest input of each kind read, documented in the README ("Limits"). */
const INPUT_LIMITS = {
  /** A C source, header or Makefile. */
  source: 8 << 20,
  /** A manifest, build record or marker (JSON). */
  json: 8 << 20,
  /** A scenario file. */
  scenario: 4 << 20,
  /** A kallsyms dump or Module.symvers. */
  symbols: 128 << 20,
  /** A kernel module (.ko) or other ELF file. */
  elf: 512 << 20,
} as const;

type InputKind = keyof typeof INPUT_LIMITS;

const KIND_WORDS: Record<InputKind, string> = {
  source: 'source file',
  json: 'JSON file',
  scenario: 'scenario',
  symbols: 'symbol table',
  elf: 'ELF file',
};

function mib(n: number): string {
  return `${Math.round(n / (1 << 20))} MiB`;
}

/**
 * Reads a file of outside data as bytes, refusing before reading anything that
 * is not a regular file (a FIFO would hang, /dev/zero never ends) or that is
 * larger than the documented limit of its kind.
 */
export function readInput(path: string, kind: InputKind, opts: { what?: string; maxBytes?: number } = {}): Buffer {
  const what = opts.what ?? KIND_WORDS[kind];
  const limit = opts.maxBytes ?? INPUT_LIMITS[kind];
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO with no writer must not block before the type check.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    if (isSystemError(e)) throw fromSystemError(e, `cannot read ${what}`);
    throw e;
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw new KlpError(`${what} is a directory`, { code: 'input-not-file', file: path });
    if (!st.isFile()) throw new KlpError(`${what} is not a regular file (a device, FIFO or socket); refused`, { code: 'input-not-file', file: path });
    if (st.size > limit) throw new KlpError(`${what} is ${mib(st.size)}, over the limit of ${mib(limit)} for a ${KIND_WORDS[kind]}`, { code: 'input-too-large', file: path });
    const buf = Buffer.allocUnsafe(st.size);
    let off = 0;
    while (off < st.size) {
      const n = readSync(fd, buf, off, st.size - off, off);
      if (n === 0) break;
      off += n;
    }
    return off === st.size ? buf : buf.subarray(0, off);
  } catch (e) {
    if (isSystemError(e)) throw fromSystemError(e, `cannot read ${what}`);
    throw e;
  } finally {
    closeSync(fd);
  }
}

/** UTF-8 text of a data file (JSON, scenarios, symbol tables). */
export function readInputText(path: string, kind: InputKind, opts: { what?: string; maxBytes?: number } = {}): string {
  return readInput(path, kind, opts).toString('utf8');
}

/**
 * C sources and Makefiles are bytes, not UTF-8: read them as latin1 so every
 * byte is one character (byte offsets equal string offsets, and any byte
 * sequence survives the round trip), and write them back with writeSourceText.
 */
export function readSourceText(path: string, opts: { what?: string } = {}): string {
  return readInput(path, 'source', opts).toString('latin1');
}

/** Parses JSON read from a data file; a syntax error is a KlpError at its line and column. */
export function parseJsonInput(text: string, file: string, what = 'JSON file'): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const msg = (e as Error).message;
    const m = /position (\d+)/.exec(msg);
    let line = 0;
    let col = 0;
    if (m) {
      const pos = Number(m[1]);
      const before = text.slice(0, pos);
      line = before.split('\n').length;
      col = pos - before.lastIndexOf('\n');
    }
    // V8 quotes the text around the error (`..., "<text>" is not valid JSON`): never echo a file's content.
    const reason = msg.replace(/ in JSON at position \d+.*$/s, '').replace(/, ".*" is not valid JSON$/s, '');
    throw new KlpError(`${what} is not valid JSON: ${reason}`, { code: 'json-syntax', file, line, col });
  }
}

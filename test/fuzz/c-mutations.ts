import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { libLivepatch, ROOT, samples } from '../helpers/env.js';
import type { Rng } from './rng.js';

/**
 * Mutated C sources: byte mutations, truncations and splices of the kernel's
 * livepatch samples and the split fixtures' inputs, plus constructed edge
 * shapes (unterminated literals, NULs, CRLF, non-UTF-8 bytes, huge lines,
 * deep nesting, include cycles, object names that are paths).
 */

export interface CSeed {
  name: string;
  bytes: Buffer;
}

/** Every livepatch-shaped C file we have: the kernel's samples and selftest modules, the split fixtures' inputs. */
export function cSeeds(): CSeed[] {
  const out: CSeed[] = [];
  const add = (dir: string): void => {
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.c')).sort()) out.push({ name: f, bytes: readFileSync(join(dir, f)) });
  };
  add(samples());
  add(libLivepatch());
  const fixtures = join(ROOT, 'test/fixtures/split');
  for (const d of readdirSync(fixtures).sort()) add(join(fixtures, d, 'input'));
  return out;
}

/** Byte offsets of line starts. */
function lineStarts(b: Buffer): number[] {
  const starts = [0];
  for (let i = 0; i < b.length; i++) if (b[i] === 0x0a && i + 1 < b.length) starts.push(i + 1);
  return starts;
}

function insertAt(b: Buffer, at: number, piece: Buffer | string): Buffer {
  return Buffer.concat([b.subarray(0, at), Buffer.isBuffer(piece) ? piece : Buffer.from(piece, 'latin1'), b.subarray(at)]);
}

function replaceRange(b: Buffer, from: number, to: number, piece: Buffer | string): Buffer {
  return Buffer.concat([b.subarray(0, from), Buffer.isBuffer(piece) ? piece : Buffer.from(piece, 'latin1'), b.subarray(to)]);
}

/** Shapes that break lexers and parsers; `self` is the file's own name (for an include cycle). */
function edgeShape(rng: Rng, self: string): { piece: string; what: string } {
  const shapes: [string, () => string][] = [
    ['unterminated string', () => `static const char *s = "never closed\n`],
    ['unterminated char', () => `x'\n;`],
    ['unterminated comment', () => `/* never closed\n`],
    ['unterminated #if', () => `#if 1\nint y;\n`],
    ['NUL bytes', () => `int a\0b;\0\0\n`],
    ['lone CR', () => `int cr;\rint cr2;\r`],
    ['non-UTF-8 comment', () => `/* J\xfcrgen \xff\xfe \xc0\xaf \x80 */\n`],
    ['non-UTF-8 string', () => `static const char *n = "\xe9t\xe9 \xff";\n`],
    ['non-UTF-8 identifier', () => `int caf\xe9 = 1;\n`],
    ['huge comment line', () => `/* ${'x'.repeat(200_000)} */\n`],
    ['huge identifier', () => `int ${'a'.repeat(100_000)};\n`],
    ['huge string', () => `static const char *h = "${'y'.repeat(150_000)}";\n`],
    ['deep parentheses', () => `int d = ${'('.repeat(3000)}1${')'.repeat(3000)};\n`],
    ['deep braces', () => `static int b[] = ${'{'.repeat(2000)}1${'}'.repeat(2000)};\n`],
    ['deep #if', () => `${'#if 1\n'.repeat(500)}int z;\n${'#endif\n'.repeat(500)}`],
    ['unbalanced braces', () => `}}}{{{\n`],
    ['include cycle', () => `#include "${self}"\n`],
    ['BOM', () => `\xef\xbb\xbf`],
    ['comment at the end of the file', () => `/* ${EOF_COMMENT} */`],
    ['backslash at end of file', () => `#define CONT \\`],
    ['very long macro continuation', () => `#define LONG \\\n${'  x + \\\n'.repeat(5000)}  0\n`],
    ['klp_func without names', () => `static struct klp_func fz[] = { { }, { .old_name = }, { } };\n`],
    ['klp_object with a path for a name', () => `static struct klp_func fzf[] = { { .old_name = "f", .new_func = 0 }, { } };\nstatic struct klp_object fzo[] = { { .name = "../../victim", .funcs = fzf }, { } };\n`],
    ['object name of 400 characters', () => `static struct klp_func fzf2[] = { { .old_name = "f", .new_func = 0 }, { } };\nstatic struct klp_object fzo2[] = { { .name = "${'m'.repeat(400)}", .funcs = fzf2 }, { } };\n`],
  ];
  const [what, make] = rng.pick(shapes);
  return { piece: make(), what };
}

/** A klp_object .name rewritten into something that is not a module name. */
const ODD_NAMES = ['../victim', '../../sentinel/victim', '/tmp/abs', 'a/b', '.', '..', '', 'x'.repeat(300), 'sp ace', 'semi;colon', '$(touch PWNED)', 'nul\\0byte', 'dash-name', 'UPPER', 'ütf8'];

export function mutateC(rng: Rng, seeds: CSeed[]): { name: string; bytes: Buffer; what: string } {
  const seed = rng.pick(seeds);
  let b: Buffer = Buffer.from(seed.bytes);
  const steps: string[] = [];
  const n = rng.chance(0.3) ? 2 + rng.int(3) : 1;
  for (let k = 0; k < n; k++) {
    const starts = lineStarts(b);
    switch (rng.int(12)) {
      case 0: {
        const at: number[] = [];
        for (let i = 1 + rng.int(6); i > 0 && b.length; i--) {
          const off = rng.int(b.length);
          b[off]! ^= 1 << rng.int(8);
          at.push(off);
        }
        steps.push(`bit flips at ${at.join(',')}`);
        break;
      }
      case 1: {
        const off = rng.int(b.length + 1);
        const len = 1 + rng.int(12);
        const bytes = Buffer.from(Array.from({ length: len }, () => rng.int(256)));
        b = insertAt(b, off, bytes);
        steps.push(`${len} random bytes inserted at ${off}`);
        break;
      }
      case 2: {
        const len = rng.int(b.length + 1);
        b = b.subarray(0, len);
        steps.push(`truncated to ${len} bytes`);
        break;
      }
      case 3: {
        // Splice: a run of lines of another seed replaces a run of this one.
        const other = rng.pick(seeds).bytes;
        const os = lineStarts(other);
        const a = rng.int(os.length);
        const piece = other.subarray(os[a], os[Math.min(os.length - 1, a + 1 + rng.int(40))] ?? other.length);
        const from = starts[rng.int(starts.length)]!;
        const to = Math.min(b.length, from + rng.int(400));
        b = replaceRange(b, from, to, piece);
        steps.push(`bytes ${from}-${to} replaced by ${piece.length} bytes of another source`);
        break;
      }
      case 4: {
        const i = rng.int(starts.length);
        const end = starts[i + 1] ?? b.length;
        b = rng.chance(0.5) ? replaceRange(b, starts[i]!, end, '') : insertAt(b, starts[i]!, b.subarray(starts[i]!, end));
        steps.push(`line ${i + 1} deleted or duplicated`);
        break;
      }
      case 5: {
        // Delete one structural character.
        const text = b.toString('latin1');
        const positions = [...text.matchAll(/[{}();"'\\#]/g)].map((m) => m.index!);
        if (positions.length) {
          const at = rng.pick(positions);
          b = replaceRange(b, at, at + 1, '');
          steps.push(`'${text[at]}' at ${at} deleted`);
        }
        break;
      }
      case 6:
      case 7:
      case 8: {
        const { piece, what } = edgeShape(rng, seed.name);
        const at = rng.chance(0.2) ? b.length : starts[rng.int(starts.length)]!;
        b = insertAt(b, at, piece);
        steps.push(`${what} at ${at}`);
        break;
      }
      case 9: {
        b = Buffer.from(b.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1');
        steps.push('CRLF line endings');
        break;
      }
      case 10: {
        const text = b.toString('latin1');
        const names = [...text.matchAll(/\.name\s*=\s*"([^"]*)"/g)];
        if (names.length) {
          const m = rng.pick(names);
          const odd = rng.pick(ODD_NAMES);
          b = replaceRange(b, m.index!, m.index! + m[0].length, `.name = "${odd}"`);
          steps.push(`.name "${m[1]}" -> "${odd.length > 40 ? `${odd.slice(0, 10)}...(${odd.length})` : odd}"`);
        }
        break;
      }
      default: {
        // A shape alone, as a whole file.
        const { piece, what } = edgeShape(rng, seed.name);
        b = Buffer.from(piece, 'latin1');
        steps.push(`whole file: ${what}`);
        break;
      }
    }
  }
  return { name: seed.name, bytes: b, what: `${seed.name}: ${steps.join('; ')}` };
}

/** A comment the sources class appends at the end of a file: on success some output must keep it. */
export const EOF_COMMENT = 'KLP-FUZZ-EOF-COMMENT';

/** U+FFFD in UTF-8: a byte the tool did not keep. */
export const REPLACEMENT = Buffer.from('\uFFFD', 'utf8');

/** True when the bytes use CRLF everywhere (and have at least one line end). */
export function pureCrlf(b: Buffer): boolean {
  const t = b.toString('latin1');
  return /\r\n/.test(t) && !/(^|[^\r])\n/.test(t);
}

/** True when a text mixes CRLF and bare LF line ends. */
export function mixedEndings(b: Buffer): boolean {
  const t = b.toString('latin1');
  return /\r\n/.test(t) && /(^|[^\r])\n/.test(t);
}

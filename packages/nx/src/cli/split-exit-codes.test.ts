import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { ExecutorContext } from '@nx/devkit';
import { main } from './main.js';
import type { Io } from './output.js';
import splitExecutor from '../executors/split/executor.js';
import { samples } from '../../../../test/helpers/env.js';

/**
 * Issue 20: every exception of the splitter became exit 2 "cannot read
 * <file>", so CI could not tell a defect from bad input. A defect is exit
 * 3 with one line saying so (the stack only with --debug), in the CLI and
 * the Nx executor alike; input the splitter refuses by a limit is exit 2 at
 * its line. The defect is made by the test (a splitter that throws a
 * TypeError when asked to split `defect.c`): no input makes the real one fail.
 */
vi.mock('@klp-split/splitter', async (importOriginal) => {
  const real = await importOriginal<typeof import('@klp-split/splitter')>();
  const defect = (files: string | string[]): void => {
    if ([files].flat().some((f) => f.endsWith('defect.c'))) throw new TypeError("Cannot read properties of undefined (reading 'node')");
  };
  return {
    ...real,
    splitLivepatch: (files: string[], opts: Parameters<typeof real.splitLivepatch>[1]) => (defect(files), real.splitLivepatch(files, opts)),
    splitFile: (file: string, opts: Parameters<typeof real.splitFile>[1]) => (defect(file), real.splitFile(file, opts)),
  };
});

const dir = mkdtempSync(join(tmpdir(), 'klp-split-exit-codes-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function capture(): { io: Io; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t) => out.push(t), err: (t) => err.push(t), progress: () => {} }, out, err };
}

/** The kernel's livepatch-sample.c with `lines` inserted after its #includes, and the line number the first of them gets. */
function sample(lines: string): { text: string; first: number } {
  const text = readFileSync(samples('livepatch-sample.c'), 'latin1');
  const at = text.indexOf('\n', text.lastIndexOf('#include')) + 1;
  return { text: `${text.slice(0, at)}${lines}${text.slice(at)}`, first: text.slice(0, at).split('\n').length };
}

/** A livepatch with one global nesting `depth` #ifdefs deep; the line of its first #ifdef. */
function nested(name: string, depth: number, extra = ''): { file: string; first: number } {
  const file = join(dir, name);
  const { text, first } = sample(`${extra}${Array.from({ length: depth }, (_, i) => `#ifdef KLP_N${i}\n`).join('')}int deep;\n${'#endif\n'.repeat(depth)}`);
  writeFileSync(file, text, 'latin1');
  return { file, first: first + extra.split('\n').length - 1 };
}

describe('split: a defect of the splitter is exit 3, bad input exit 2 (issue 20)', () => {
  it('a defect: exit 3, one line saying it is a defect of klp-split, no stack trace', async () => {
    const file = join(dir, 'defect.c');
    writeFileSync(file, sample('').text, 'latin1');
    const c = capture();
    expect(await main(['split', file, '--out', join(dir, 'out-defect')], c.io)).toBe(3);
    const text = c.err.join('\n');
    expect(text).toContain("klp-split: internal error: Cannot read properties of undefined (reading 'node') [internal]");
    expect(text).toContain('this is a defect of klp-split; run again with --debug');
    expect(text).not.toContain('cannot read');
    expect(text).not.toMatch(/^\s+at /m);
  });

  it('--debug adds the stack trace', async () => {
    const c = capture();
    expect(await main(['split', join(dir, 'defect.c'), '--out', join(dir, 'out-defect'), '--debug'], c.io)).toBe(3);
    expect(c.err.join('\n')).toMatch(/^\s+at .*defect/m);
  });

  it('the Nx split executor reports the same defect the same way', async () => {
    const err: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((t) => (err.push(String(t)), true));
    try {
      const r = await splitExecutor({ source: 'defect.c', outputPath: 'out-nx', allIncludes: true }, { root: dir } as ExecutorContext);
      expect(r.success).toBe(false);
    } finally {
      spy.mockRestore();
    }
    expect(err.join('')).toContain('internal error: Cannot read properties of undefined');
  });

  it('a file that cannot be read is still exit 2 naming it', async () => {
    const c = capture();
    expect(await main(['split', join(dir, 'missing.c'), '--out', join(dir, 'out-missing')], c.io)).toBe(2);
    expect(c.err.join('\n')).toContain(join(dir, 'missing.c'));
  });

  it('5,000 nested #ifdefs: exit 2 at the line past the limit, no stack overflow (it was "Maximum call stack size exceeded", exit 2 "cannot read")', async () => {
    const { file, first } = nested('nested5k.c', 5000);
    const c = capture();
    expect(await main(['split', file, '--out', join(dir, 'out-5k'), '--all-includes'], c.io)).toBe(2);
    // #ifdef number 257.
    expect(c.err.join('\n')).toBe(`klp-split: ${file}:${first + 256}:1: error: conditionals nest more than 256 deep here; klp-split does not split such a source [conditionals-too-deep]`);
    expect(readFileSync(file, 'latin1').split('\n')[first + 255]).toBe('#ifdef KLP_N256');
  });

  it('256 nested #ifdefs split (the limit), and directives in comments and strings do not count', async () => {
    const { file } = nested('nested256.c', 256, `/*\n${'#ifdef IN_COMMENT\n'.repeat(300)}*/\nstatic const char s[] = "\\\n#ifdef IN_STRING";\n`);
    const c = capture();
    expect(await main(['split', file, '--out', join(dir, 'out-256'), '--all-includes'], c.io), c.err.join('\n')).toBe(0);
  });
});

import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { samples } from '../helpers/env.js';
import { REPLACEMENT } from './c-mutations.js';
import { describeFailure, fuzzSeed, judge, noteCase, summary, type CaseOutcome } from './driver.js';
import type { Violation } from './oracles.js';
import { fuzzCases, fuzzSeeds, hex, type Rng } from './rng.js';
import { runInProcess } from './run.js';
import { diffSnapshots, Sandbox, snapshotTree } from './sandbox.js';

/**
 * Fuzzing `convert` with mutated Makefiles (and Kbuild files) beside two of
 * the kernel's livepatch samples. Oracles: the common ones, and on success
 * every original line kept byte for byte and in order, no added line
 * glued to an original line that ends in a backslash, no byte turned into
 * U+FFFD, and a second convert changes nothing.
 */

const CLASS = 'makefiles';
const SEEDS = fuzzSeeds([0x3a6ef001, 0x3a6ef002]);
const CASES = fuzzCases(15);

const SOURCES = ['livepatch-shadow-fix1.c', 'livepatch-callbacks-demo.c'];

function shapes(rng: Rng): { piece: string; what: string } {
  const all: [string, () => string][] = [
    ['trailing backslash, no final newline', () => 'ccflags-y += -DX \\'],
    ['non-UTF-8 comment', () => '# J\xfcrgen \xff\xfe\n'],
    ['CRLF line', () => 'obj-m += other.o\r\n'],
    ['continued obj- line', () => 'obj-$(CONFIG_SAMPLE_LIVEPATCH) += \\\n\tlivepatch-shadow-fix1.o \\\n\tlivepatch-callbacks-demo.o\n'],
    ['obj-y', () => 'obj-y += livepatch-shadow-fix1.o\n'],
    ['obj-m', () => 'obj-m := livepatch-callbacks-demo.o\n'],
    ['ifeq block', () => 'ifeq ($(CONFIG_X),y)\nobj-m += livepatch-shadow-fix1.o\nendif\n'],
    ['-objs composite', () => 'livepatch-shadow-fix1-objs := a.o b.o\n'],
    ['include', () => 'include $(src)/../Makefile\n'],
    ['shell function', () => 'X := $(shell touch PWNED)\n'],
    ['huge line', () => `# ${'z'.repeat(300_000)}\n`],
    ['NUL', () => 'obj-m += a\0b.o\n'],
    ['lone CR', () => 'obj-m += cr.o\r'],
    ['tab recipe', () => 'all:\n\t$(MAKE) -C $(KDIR) M=$(PWD)\n'],
    ['duplicate obj line', () => 'obj-$(CONFIG_SAMPLE_LIVEPATCH) += livepatch-shadow-fix1.o\n'],
    ['10,000 lines', () => 'obj-m += filler.o\n'.repeat(10_000)],
  ];
  const [what, make] = rng.pick(all);
  return { piece: make(), what };
}

function mutateMakefile(rng: Rng, base: Buffer): { bytes: Buffer; what: string } {
  let t = base.toString('latin1');
  const steps: string[] = [];
  for (let n = rng.chance(0.3) ? 2 + rng.int(2) : 1; n > 0; n--) {
    switch (rng.int(7)) {
      case 0: {
        const at = rng.int(t.length + 1);
        t = t.slice(0, at);
        steps.push(`truncated to ${at}`);
        break;
      }
      case 1: {
        const at = rng.int(Math.max(1, t.length));
        t = t.slice(0, at) + String.fromCharCode(rng.int(256)) + t.slice(at + 1);
        steps.push(`byte ${at} replaced`);
        break;
      }
      case 2:
        t = t.replace(/\n/g, '\r\n');
        steps.push('CRLF');
        break;
      case 3:
        t = t.replace(/\n$/, '');
        steps.push('no final newline');
        break;
      default: {
        const { piece, what } = shapes(rng);
        const lines = t.split('\n');
        const at = rng.chance(0.4) ? lines.length : rng.int(lines.length + 1);
        if (at >= lines.length) t = t + piece;
        else t = [...lines.slice(0, at), piece.replace(/\n$/, ''), ...lines.slice(at)].join('\n');
        steps.push(`${what} at line ${at + 1}`);
      }
    }
  }
  return { bytes: Buffer.from(t, 'latin1'), what: steps.join('; ') };
}

/** Original lines kept in order, byte for byte; added lines not glued to an original continuation line. */
function makefileViolations(before: Buffer, after: Buffer): Violation[] {
  const v: Violation[] = [];
  const a = before.toString('latin1').split('\n');
  const b = after.toString('latin1').split('\n');
  if (a[a.length - 1] === '') a.pop();
  const added = new Array<boolean>(b.length).fill(true);
  let j = 0;
  for (const line of a) {
    while (j < b.length && b[j] !== line) j++;
    if (j === b.length) {
      // The last line of a file without a final newline may gain one: compare it alone.
      v.push({ kind: 'content', detail: `original line ${JSON.stringify(line.slice(0, 80))} is no longer in the Makefile (or out of order)` });
      return v;
    }
    added[j++] = false;
  }
  for (let i = 1; i < b.length; i++) {
    if (added[i] && b[i] !== '' && !added[i - 1] && /\\\r?$/.test(b[i - 1]!)) v.push({ kind: 'content', detail: `added line ${JSON.stringify(b[i]!.slice(0, 60))} continues the original line ${JSON.stringify(b[i - 1]!.slice(0, 60))}` });
  }
  if (!before.includes(REPLACEMENT) && after.includes(REPLACEMENT)) v.push({ kind: 'content', detail: 'the Makefile holds U+FFFD: a byte was not kept' });
  return v;
}

async function makefileCase(sandbox: Sandbox, rng: Rng): Promise<CaseOutcome> {
  const dir = join(sandbox.work, 'dir');
  mkdirSync(dir);
  for (const f of SOURCES) cpSync(samples(f), join(dir, f));
  const name = rng.chance(0.8) ? 'Makefile' : 'Kbuild';
  const { bytes, what } = mutateMakefile(rng, readFileSync(samples('Makefile')));
  writeFileSync(join(dir, name), bytes);
  noteCase(sandbox, `${name}: ${what}`);
  const args = ['convert', dir, '--all-includes', ...(rng.chance(0.15) ? ['--dry-run'] : [])];
  const first = await judge(sandbox, [dir], () => runInProcess(args));
  const violations = [...first.violations];
  const commands = [args];
  if (first.r.code === 0 && !args.includes('--dry-run')) {
    violations.push(...makefileViolations(bytes, readFileSync(join(dir, name))));
    for (const f of readdirSync(dir)) {
      if (/\.[ch]$/.test(f) && readFileSync(join(dir, f)).includes(REPLACEMENT)) violations.push({ kind: 'content', detail: `${f} holds U+FFFD` });
    }
    const before = snapshotTree(dir);
    const again = await judge(sandbox, [dir], () => runInProcess(args));
    commands.push(args);
    violations.push(...again.violations);
    const changed = diffSnapshots(before, snapshotTree(dir));
    if (again.r.code !== 0 || changed.length) violations.push({ kind: 'content', detail: `second convert: exit ${again.r.code}, ${changed.slice(0, 3).join(', ') || 'no change'}` });
  }
  if (existsSync(join(dir, 'PWNED'))) violations.push({ kind: 'write-outside', detail: 'convert ran a $(shell) of the Makefile' });
  return { what: `${name}: ${what}`, violations, commands };
}

describe('fuzzing convert with mutated Makefiles', () => {
  let sandbox: Sandbox;
  beforeAll(() => {
    sandbox = new Sandbox(CLASS);
  });
  afterAll(() => sandbox?.remove());

  it.each(SEEDS.map(hex))(`${CASES.length} mutated Makefiles, seed %s: convert keeps every original byte and stays within the oracles`, async (seedText) => {
    const { failures, figures } = await fuzzSeed(CLASS, Number(seedText), CASES, sandbox, (rng) => makefileCase(sandbox, rng));
    console.log(summary(figures));
    expect(failures.slice(0, 15).map((f) => describeFailure(CLASS, f))).toEqual([]);
  });
});

import { mkdirSync, readdirSync, readFileSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cSeeds, EOF_COMMENT, mixedEndings, mutateC, pureCrlf, REPLACEMENT, type CSeed } from './c-mutations.js';
import { describeFailure, fuzzSeed, judge, summary, type CaseOutcome } from './driver.js';
import type { Violation } from './oracles.js';
import { fuzzCases, fuzzSeeds, hex, type Rng } from './rng.js';
import { runInProcess } from './run.js';
import { diffSnapshots, Sandbox, snapshotTree } from './sandbox.js';

/**
 * Fuzzing `split` with mutated C sources. Oracles: the common ones (exit
 * 0/1/2, no internal error or stack trace, no hang, nothing written outside
 * --out, nothing read from the sentinel), and on success: no byte turned into
 * U+FFFD, no output mixing CRLF and LF when the input was CRLF, and a second
 * run into the same directory succeeds and changes nothing.
 */

const CLASS = 'sources';
const SEEDS = fuzzSeeds([0x5c0de001, 0x5c0de002]);
const CASES = fuzzCases(60);

function contentViolations(input: Buffer, out: string): Violation[] {
  const v: Violation[] = [];
  let files: string[] = [];
  try {
    files = readdirSync(out).filter((f) => /\.[ch]$/.test(f));
  } catch {
    return v;
  }
  const outputs = files.map((f) => readFileSync(join(out, f)));
  const t = input.toString('latin1');
  if (t.trimEnd().endsWith(`${EOF_COMMENT} */`) && !outputs.some((b) => b.includes(EOF_COMMENT))) v.push({ kind: 'content', detail: 'the comment at the end of the source is in no output' });
  for (const [i, f] of files.entries()) {
    const bytes = outputs[i]!;
    if (!input.includes(REPLACEMENT) && bytes.includes(REPLACEMENT)) v.push({ kind: 'content', detail: `${f} holds U+FFFD: a byte of the source was not kept` });
    if (pureCrlf(input) && mixedEndings(bytes)) v.push({ kind: 'content', detail: `${f} mixes CRLF and LF line ends (the source is CRLF)` });
  }
  return v;
}

async function splitCase(sandbox: Sandbox, seeds: CSeed[], rng: Rng): Promise<CaseOutcome> {
  const { name, bytes, what } = mutateC(rng, seeds);
  const src = join(sandbox.work, 'src');
  mkdirSync(src);
  const file = join(src, name);
  writeFileSync(file, bytes);
  const out = join(sandbox.work, 'out');
  const args = ['split', file, '--out', out, ...(rng.chance(0.7) ? ['--all-includes'] : [])];
  const commands = [args];
  const first = await judge(sandbox, [out], () => runInProcess(args));
  const violations = [...first.violations];
  if (first.r.code === 0) {
    violations.push(...contentViolations(bytes, out));
    const generated = readdirSync(out).filter((f) => f.endsWith('.c'));
    if (rng.chance(0.15) && generated.length) {
      // A hand-edited generated file is never overwritten without --force, and a refusal names it.
      const edited = join(out, rng.pick(generated));
      appendFileSync(edited, '/* edited by hand */\n');
      const after = readFileSync(edited);
      const again = await judge(sandbox, [out], () => runInProcess(args));
      commands.push(args);
      violations.push(...again.violations);
      if (!readFileSync(edited).equals(after)) violations.push({ kind: 'content', detail: `re-split overwrote the hand-edited ${edited.replace(/^.*\//, '')} (exit ${again.r.code})` });
      else if (again.r.code !== 0 && !`${again.r.stdout}${again.r.stderr}`.includes(edited.replace(/^.*\//, ''))) violations.push({ kind: 'content', detail: 're-split refused without naming the edited file' });
    } else if (rng.chance(0.3)) {
      // Splitting twice changes nothing.
      const before = snapshotTree(out);
      const again = await judge(sandbox, [out], () => runInProcess(args));
      commands.push(args);
      violations.push(...again.violations);
      const changed = diffSnapshots(before, snapshotTree(out));
      if (again.r.code !== 0 || changed.length) violations.push({ kind: 'content', detail: `second split: exit ${again.r.code}, ${changed.slice(0, 3).join(', ') || 'no change'}` });
    }
  }
  return { what, violations, commands };
}

describe('fuzzing split with mutated C sources', () => {
  let sandbox: Sandbox;
  let seeds: CSeed[];
  beforeAll(() => {
    sandbox = new Sandbox(CLASS);
    seeds = cSeeds();
  });
  afterAll(() => sandbox?.remove());

  it('has the kernel samples and the split fixtures to mutate', () => {
    expect(seeds.map((s) => s.name)).toEqual(expect.arrayContaining(['livepatch-shadow-fix1.c', 'test_klp_state3.c', 'fix-helper.c']));
  });

  it.each(SEEDS.map(hex))(`${CASES.length} mutated sources, seed %s: split stays within the oracles`, async (seedText) => {
    const { failures, figures } = await fuzzSeed(CLASS, Number(seedText), CASES, sandbox, (rng) => splitCase(sandbox, seeds, rng));
    console.log(summary(figures));
    expect(failures.slice(0, 15).map((f) => describeFailure(CLASS, f))).toEqual([]);
  });
});

import { appendFileSync, cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkAccesses, checkRun, checkSandbox, type Violation } from './oracles.js';
import { caseRng, hex, type Rng } from './rng.js';
import type { RunResult } from './run.js';
import type { Sandbox } from './sandbox.js';

/**
 * The loop every fuzz class shares: a fresh work directory per case, the
 * oracles, a saved reproducer per failing case, and the figures of the run
 * (appended as one JSON line per class and seed to $FUZZ_REPORT, for
 * scripts/fuzz-report.mjs).
 */

export interface CaseOutcome {
  /** What the input was, short enough for a failure line (the reproducer holds the rest). */
  what: string;
  violations: Violation[];
  /** The command(s) run, for the reproducer. */
  commands: string[][];
}

export interface Failure {
  seed: number;
  index: number;
  what: string;
  violations: Violation[];
  reproducer?: string;
}

export interface SeedFigures {
  class: string;
  seed: string;
  inputs: number;
  failingInputs: number;
  /** Failing inputs per oracle kind. */
  byKind: Record<string, number>;
  /** Up to five failures, for routing. */
  examples: string[];
  ms: number;
}

const REPRO_ROOT = process.env.FUZZ_REPRO_DIR ?? join(tmpdir(), 'klp-split-fuzz-repro');
const MAX_SAVED = Number(process.env.FUZZ_MAX_SAVED ?? 25);

/** Runs one command and applies the common oracles; `allowed` are the directories it may write in. */
export async function judge(sandbox: Sandbox, allowed: string[], run: () => Promise<RunResult>, opts: { timeBoundMs?: number; allowedExit?: number[] } = {}): Promise<{ r: RunResult; violations: Violation[] }> {
  const before = sandbox.snapshot(allowed);
  const r = await run();
  const after = sandbox.snapshot(allowed);
  const violations = [...checkRun(r, opts), ...checkAccesses(r, sandbox, allowed), ...checkSandbox(r, sandbox, before, after)];
  return { r, violations };
}

/** Adds what the input is to the sandbox's current-case file, before running it (a hang or crash leaves it behind). */
export function noteCase(sandbox: Sandbox, what: string): void {
  appendFileSync(join(sandbox.root, 'current-case'), `${what}\n`);
}

export function describeFailure(cls: string, f: Failure): string {
  const kinds = f.violations.map((v) => `${v.kind}: ${v.detail}`).join('; ');
  return `[${cls}] FUZZ_SEED=${hex(f.seed)} FUZZ_CASE=${f.index} ${f.what} => ${kinds}${f.reproducer ? ` (reproducer: ${f.reproducer})` : ''}`;
}

export async function fuzzSeed(cls: string, seed: number, cases: number[], sandbox: Sandbox, runCase: (rng: Rng, index: number) => Promise<CaseOutcome>): Promise<{ failures: Failure[]; figures: SeedFigures }> {
  const t0 = performance.now();
  const failures: Failure[] = [];
  const byKind: Record<string, number> = {};
  let saved = 0;
  for (const index of cases) {
    sandbox.clearWork();
    // Written before the run: a case that hangs the process leaves its name behind.
    writeFileSync(join(sandbox.root, 'current-case'), `${cls} FUZZ_SEED=${hex(seed)} FUZZ_CASE=${index}\n`);
    let outcome: CaseOutcome;
    try {
      outcome = await runCase(caseRng(seed, index), index);
    } catch (e) {
      // A defect of the harness itself, reported as such rather than swallowed.
      outcome = { what: 'harness', violations: [{ kind: 'escaped-exception', detail: `harness: ${(e as Error).stack ?? e}` }], commands: [] };
    }
    if (!outcome.violations.length) continue;
    // Figures count inputs, not violations: one input with two kinds of failure counts once under each.
    for (const k of new Set(outcome.violations.map((v) => v.kind))) byKind[k] = (byKind[k] ?? 0) + 1;
    const f: Failure = { seed, index, what: outcome.what, violations: outcome.violations };
    if (saved < MAX_SAVED) {
      saved++;
      f.reproducer = saveReproducer(cls, f, sandbox, outcome.commands);
    }
    failures.push(f);
    if (outcome.violations.some((v) => v.kind === 'write-outside')) sandbox.resetSentinel();
  }
  const figures: SeedFigures = {
    class: cls,
    seed: hex(seed),
    inputs: cases.length,
    failingInputs: failures.length,
    byKind,
    examples: representative(failures).map((f) => describeFailure(cls, f)),
    ms: Math.round(performance.now() - t0),
  };
  if (process.env.FUZZ_REPORT) appendFileSync(process.env.FUZZ_REPORT, `${JSON.stringify(figures)}\n`);
  return { failures, figures };
}

/** Up to five failures with different signatures (oracle kind and the start of its detail, paths and numbers masked). */
export function representative(failures: Failure[], n = 5): Failure[] {
  const signature = (f: Failure): string => f.violations.map((v) => `${v.kind}:${v.detail.replace(/\/tmp\/[^\s'"]*/g, 'P').replace(/\d+/g, 'N').slice(0, 50)}`).join('|');
  const picked: Failure[] = [];
  const seen = new Set<string>();
  for (const f of failures) {
    if (picked.length >= n) break;
    if (!seen.has(signature(f))) {
      seen.add(signature(f));
      picked.push(f);
    }
  }
  for (const f of failures) if (picked.length < n && !picked.includes(f)) picked.push(f);
  return picked;
}

function saveReproducer(cls: string, f: Failure, sandbox: Sandbox, commands: string[][]): string {
  const dir = join(REPRO_ROOT, cls, `${hex(f.seed)}-${f.index}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  try {
    cpSync(sandbox.work, join(dir, 'work'), { recursive: true, verbatimSymlinks: true, filter: (src) => !/\.(?:ko|o|mod\.o)$/.test(src) });
  } catch {
    // A work tree the command left unreadable: the description below still replays it.
  }
  const lines = [
    `class ${cls}, seed ${hex(f.seed)}, case ${f.index}: ${f.what}`,
    '',
    `replay: FUZZ_SEED=${hex(f.seed)} FUZZ_CASE=${f.index} npx vitest run test/fuzz/${cls}.fuzz.test.ts`,
    `the sandbox was ${sandbox.root} (work/ copied here, built .ko files left out)`,
    '',
    'commands:',
    ...commands.map((c) => `  klp-split ${c.map((a) => JSON.stringify(a)).join(' ')}`),
    '',
    'violations:',
    ...f.violations.map((v) => `  ${v.kind}: ${v.detail}`),
    '',
  ];
  writeFileSync(join(dir, 'README.txt'), lines.join('\n'));
  return dir;
}

/** The one-line figure a test prints, and the failure list it asserts empty. */
export function summary(f: SeedFigures): string {
  const kinds = Object.entries(f.byKind).map(([k, n]) => `${k} ${n}`).join(', ');
  return `[${f.class}] seed ${f.seed}: ${f.inputs} inputs, ${f.failingInputs} failing${kinds ? ` (${kinds})` : ''}, ${f.ms} ms`;
}

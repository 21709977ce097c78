import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatDiagnostic } from '@klp-split/core';
import { splitFile, type SplitResult } from '@klp-split/splitter';
import { caseRng, hex } from '../fuzz/rng.js';
import { isAnnotationUndefined, kbuildBatch, splitUnit, type BatchUnit } from '../helpers/kbuild-batch.js';
import { sharedKbuildBatch } from '../helpers/kbuild-batch-shared.js';
import { generateLivepatch, type GeneratedLivepatch } from './livepatch-gen.js';
import { checkSplit, type Finding } from './split-oracles.js';

/**
 * Runs the generator: each case is a livepatch written to its own directory
 * (with its local headers), split there by `splitFile` as the CLI does, and
 * checked by the oracles. Every failure names its seed and case, so
 * `FUZZ_SEED=<seed> FUZZ_CASE=<n>` replays it alone.
 */
export interface GeneratedCase {
  seed: number;
  index: number;
  gen: GeneratedLivepatch;
  result: SplitResult;
  findings: Finding[];
  dir: string;
}

export interface GeneratorStats {
  cases: number;
  split: number;
  refused: number;
  ms: number;
  /** CPU time of the run (user + system), ms: the wall time on a shared machine says little. */
  cpuMs: number;
  /** Findings, one line each, with the case that shows them. */
  failures: string[];
}

/** The case's livepatch, written under `root/<seed>-<index>/`. */
export function writeCase(root: string, seed: number, index: number): { gen: GeneratedLivepatch; dir: string } {
  const gen = generateLivepatch(caseRng(seed, index), index);
  const dir = join(root, `${hex(seed)}-${index}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, gen.file), gen.source, 'latin1');
  for (const [name, text] of gen.headers) writeFileSync(join(dir, name), text, 'latin1');
  return { gen, dir };
}

export function runCase(root: string, seed: number, index: number, includeDirs: string[]): GeneratedCase {
  const { gen, dir } = writeCase(root, seed, index);
  let result: SplitResult;
  try {
    result = splitFile(join(dir, gen.file), { displayName: gen.file, includeDirs });
  } catch (e) {
    // The split never throws on a source: an exception is a finding like any other.
    result = { kind: 'invalid', source: gen.file, files: new Map(), diagnostics: [{ file: gen.file, line: 0, col: 0, severity: 'error', code: 'exception', message: (e as Error).stack ?? String(e) }] };
    return { seed, index, gen, result, dir, findings: [{ rule: 'kind', detail: `threw: ${(e as Error).stack}` }] };
  }
  return { seed, index, gen, result, dir, findings: checkSplit(gen, result) };
}

/** Runs `cases` cases of every seed in-process; keeps each failing case's directory under `root`. */
export function runGenerated(root: string, seeds: number[], cases: number[], includeDirs: string[]): GeneratorStats {
  const t0 = Date.now();
  const cpu0 = process.cpuUsage();
  const stats: GeneratorStats = { cases: 0, split: 0, refused: 0, ms: 0, cpuMs: 0, failures: [] };
  for (const seed of seeds) {
    for (const index of cases) {
      const c = runCase(root, seed, index, includeDirs);
      stats.cases++;
      if (c.result.kind === 'split') stats.split++;
      else stats.refused++;
      if (c.findings.length) {
        const replay = `FUZZ_SEED=${hex(seed)} FUZZ_CASE=${index}`;
        for (const f of c.findings) stats.failures.push(`${replay} ${c.gen.file} [${f.rule}] ${f.detail}`);
        if (c.result.kind === 'split') for (const [name, text] of c.result.files) writeSplitFile(join(c.dir, 'split'), name, text);
      } else {
        rmSync(c.dir, { recursive: true, force: true });
      }
    }
  }
  stats.ms = Date.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  stats.cpuMs = Math.round((cpu.user + cpu.system) / 1000);
  return stats;
}

function writeSplitFile(dir: string, name: string, text: string): void {
  mkdirSync(join(dir, name, '..'), { recursive: true });
  writeFileSync(join(dir, name), text, 'latin1');
}

/**
 * The compiler's word on a sample: every original and every split of the
 * given cases in one kbuild run. Returns the findings: an original that does
 * not compile (the generator's defect), a split that does not, or that the
 * compiler or modpost warns about (modpost's "undefined!" for the relocation
 * annotations' `.klp.sym.rela.*` names aside: the post-link pass resolves them).
 * With `shared`, the compile's outcome is kept as that shared fixture, keyed
 * by every original's and split's text (kbuild-batch-shared.ts): a fixed
 * sample compiles once per change of the generator, the splitter or the tool.
 */
export async function compileSample(root: string, seed: number, cases: number[], includeDirs: string[], shared?: string): Promise<{ failures: string[]; ms: number; units: number }> {
  const units: BatchUnit[] = [];
  for (const index of cases) {
    const c = runCase(join(root, 'src'), seed, index, includeDirs);
    const name = `c${index}`;
    // The original under another file name: its module must not clash with the split's main module.
    units.push({ name: `${name}-orig`, files: new Map([[`orig-${c.gen.file}`, c.gen.source], ...c.gen.headers]), modules: [{ object: `orig-${c.gen.file.replace(/\.c$/, '.o')}` }], api: 'classic', compileOnly: true });
    if (c.result.kind === 'split') units.push(splitUnit(name, c.result.files));
  }
  const result = shared ? await sharedKbuildBatch(shared, units) : await kbuildBatch(join(root, 'kbuild'), units);
  const failures: string[] = [];
  for (const u of units) {
    const index = u.name.slice(1).replace(/-orig$/, '');
    for (const d of result.diagnostics.get(u.name) ?? []) if (!isAnnotationUndefined(d)) failures.push(`FUZZ_SEED=${hex(seed)} FUZZ_CASE=${index} ${u.name}/${formatDiagnostic(d)}`);
    if (!result.built.get(u.name)) failures.push(`FUZZ_SEED=${hex(seed)} FUZZ_CASE=${index} ${u.name}: not built`);
  }
  for (const d of result.diagnostics.get('') ?? []) failures.push(formatDiagnostic(d));
  return { failures, ms: result.ms, units: units.length };
}

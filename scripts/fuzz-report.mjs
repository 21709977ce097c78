#!/usr/bin/env node
// Runs the fuzz suite (test/fuzz) with N inputs per class and seed and prints the figures issue 11 asks for:
// inputs per class, stack traces and internal errors, hangs, writes outside the output, half-written outputs
// after kills, inputs passed although the kernel refuses them (issue 20), waits that spin, with up to five
// reproducers per class.
//
//   node scripts/fuzz-report.mjs [N] [--long] [class ...]   e.g. node scripts/fuzz-report.mjs 200 sources paths
//   npm run fuzz                                             every class, FUZZ_LONG=1 (ten times the CI counts)
//                                                            and the cache server's soak at SOAK_SCALE=10
//
// Classes: one per test/fuzz/<class>.fuzz.test.ts (special-files is 'special'), found when the script runs, and
// cache-soak (the soak of test/e2e/cache-server-soak.test.ts: requests and connections count as inputs).
// FUZZ_SEED (comma separated) replaces the default seeds; FUZZ_CLI=<other build>/packages/nx/bin/klp-split.js
// runs the child processes (kills, special files, heavy inputs) of another build. Exit status 0 when every
// figure is 0.
// split-generator runs generated livepatches through the split's oracles, 25 per unit of N; 120 of them compiled.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const FILES = { special: 'special-files' };
const CLASSES = Object.fromEntries(Object.entries(FILES).map(([c, f]) => [f, c]));
// The harness's own tests are not a class.
const PATHS = { 'cache-soak': 'test/e2e/cache-server-soak.test.ts' };
const ALL = readdirSync(join(root, 'test/fuzz'))
  .filter((f) => f.endsWith('.fuzz.test.ts') && f !== 'harness.fuzz.test.ts')
  .map((f) => f.slice(0, -'.fuzz.test.ts'.length))
  .map((f) => CLASSES[f] ?? f)
  .concat(Object.keys(PATHS))
  .sort();

const args = process.argv.slice(2);
const long = args.includes('--long');
const rest = args.filter((a) => a !== '--long');
const n = rest[0] && /^\d+$/.test(rest[0]) ? rest.shift() : undefined;
const classes = rest.length ? rest : ALL;
for (const c of classes) if (!ALL.includes(c)) throw new Error(`unknown class '${c}' (${ALL.join(', ')})`);

const tmp = mkdtempSync(join(tmpdir(), 'klp-split-fuzz-report-'));
const report = join(tmp, 'figures.jsonl');
const files = classes.map((c) => PATHS[c] ?? `test/fuzz/${FILES[c] ?? c}.fuzz.test.ts`);
const t0 = Date.now();
// Long runs outlast vitest's per-test timeout (a test that times out goes on running beside the next one).
const run = spawnSync('npx', ['vitest', 'run', '--testTimeout=7200000', ...files], {
  cwd: root,
  stdio: ['ignore', 'ignore', 'inherit'],
  env: { ...process.env, FUZZ_REPORT: report, ...(n ? { FUZZ_COUNT: n } : {}), ...(long ? { FUZZ_LONG: '1', SOAK_SCALE: '10' } : {}) },
});
const seconds = Math.round((Date.now() - t0) / 1000);
const lines = existsSync(report) ? readFileSync(report, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
rmSync(tmp, { recursive: true, force: true });

const byClass = new Map();
for (const l of lines) {
  const c = byClass.get(l.class) ?? { inputs: 0, failing: 0, kinds: {}, examples: [] };
  c.inputs += l.inputs;
  c.failing += l.failingInputs;
  for (const [k, v] of Object.entries(l.byKind)) c.kinds[k] = (c.kinds[k] ?? 0) + v;
  c.examples.push(...l.examples);
  byClass.set(l.class, c);
}

const COLUMNS = [
  ['internal', ['internal-error', 'escaped-exception']],
  ['traces', ['stack-trace']],
  ['js-text', ['js-error-text']],
  ['exit', ['exit-code']],
  ['hangs', ['hang']],
  ['writes-out', ['write-outside']],
  ['reads-out', ['read-outside', 'secret-leak']],
  ['content', ['content']],
  ['half-written', ['half-written']],
  ['silent', ['silently-wrong', 'disagree']],
  ['spin', ['spin']],
  ['mixed', ['mixed']],
];
const pad = (s, w) => String(s).padStart(w);
console.log(`fuzz figures (${n ? `FUZZ_COUNT=${n}` : long ? 'FUZZ_LONG=1: ten times the CI counts, SOAK_SCALE=10' : 'CI default counts'}${process.env.FUZZ_SEED ? `, FUZZ_SEED=${process.env.FUZZ_SEED}` : ''}), ${seconds} s`);
console.log(`${'class'.padEnd(12)} ${pad('inputs', 7)} ${pad('failing', 7)} ${COLUMNS.map(([h]) => pad(h, h.length + 1)).join('')}`);
const totals = {};
for (const c of [...classes.map((x) => x), 'races']) {
  const f = byClass.get(c);
  if (!f) {
    if (c !== 'races') console.log(`${c.padEnd(12)} ${pad('-', 7)} (no figures: skipped or crashed; see the vitest output above)`);
    continue;
  }
  const cells = COLUMNS.map(([h, kinds]) => {
    const v = kinds.reduce((s, k) => s + (f.kinds[k] ?? 0), 0);
    totals[h] = (totals[h] ?? 0) + v;
    return pad(v, h.length + 1);
  });
  console.log(`${c.padEnd(12)} ${pad(f.inputs, 7)} ${pad(f.failing, 7)} ${cells.join('')}`);
}
for (const c of [...classes, 'races']) {
  const f = byClass.get(c);
  if (!f?.examples.length) continue;
  console.log(`\n${c}: ${f.failing} failing inputs; first reproducers:`);
  for (const e of f.examples.slice(0, 5)) console.log(`  ${e.length > 400 ? `${e.slice(0, 400)}...` : e}`);
}
const bad = Object.values(totals).some((v) => v > 0) || byClass.size === 0;
process.exitCode = bad ? 1 : run.status === 0 ? 0 : 1;

// verify's default model-check budget (issue 20), the whole run: a livepatch of 30 dependent targets (one group,
// each target uses the one before), split and built with the CLI, verified without --budget. The search must
// stop at the default budget (2 minutes, 1,000,000 states, or the heap bound) with a model-check-incomplete
// warning naming the default budget and what was covered, within the 2 minutes plus reading, checking and
// writing the report (target < 200 s) and under 3 GiB of heap. test/e2e/model-check-budget.test.ts proves the
// same without the 2-minute wait (the default budget reported, the heap bound with a small heap, the time and
// state bounds with given budgets). Exit status 1 when the run misses a verdict.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { dependentLivepatchSource, dependentTargetSource } from './gen-targets.mjs';

const K = 30;
const cli = (args) => execFileSync('node', ['packages/nx/bin/klp-split.js', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CI: 'true' } });
const root = mkdtempSync(join(tmpdir(), 'klp-split-budget-bench-'));
let failed = false;
try {
  console.log(`building ${K} dependent target modules and their livepatch with the CLI (not timed)...`);
  mkdirSync(join(root, 'targets'));
  for (let i = 0; i < K; i++) writeFileSync(join(root, 'targets', `klpdep-t${i}.c`), dependentTargetSource(i));
  cli(['build', join(root, 'targets')]);
  const src = join(root, `klpdep-fix${K}.c`);
  writeFileSync(src, dependentLivepatchSource(K));
  const out = join(root, 'out');
  cli(['split', src, '--out', out]);
  cli(['build', out]);
  console.log(`machine: ${cpus().length} x ${cpus()[0]?.model}, node ${process.version}`);
  const targets = Array.from({ length: K }, (_, i) => ['--target', join(root, 'targets', `klpdep-t${i}.ko`)]).flat();
  const t0 = performance.now();
  const r = spawnSync('node', ['packages/nx/bin/klp-split.js', 'verify', out, ...targets, '--format', 'json'], { encoding: 'utf8', maxBuffer: 64 << 20, env: { ...process.env, CI: 'true' } });
  const seconds = (performance.now() - t0) / 1000;
  const report = r.status === 0 ? JSON.parse(r.stdout) : undefined;
  const e = report?.exploration;
  const warning = report?.diagnostics.find((d) => d.code === 'model-check-incomplete');
  console.log('targets  states  depth  stopped-by  heap-MB  wall-s  budget');
  console.log(`${String(K).padStart(7)}  ${String(e?.states).padStart(6)}  ${String(e?.depthCompleted).padStart(5)}  ${String(e?.stoppedBy).padStart(10)}  ${String(Math.round((e?.heapBytes ?? 0) / 2 ** 20)).padStart(7)}  ${seconds.toFixed(1).padStart(6)}  ${e?.budget}`);
  const verdicts = [
    ['exit 0 with a report', r.status === 0],
    ['one group of 30 targets, incomplete', e?.groups.length === 1 && e.groups[0].length === K && e.complete === false],
    ['searched under the default budget', e?.budget === '2m, 1000000 states' && ['time', 'states', 'memory'].includes(e.stoppedBy)],
    ['the warning names the default budget and the coverage', /^model check incomplete \((time budget|state budget|memory bound .*) reached, the default budget 2m, 1000000 states; --budget sets another\): no target group searched completely; in the group of klpdep_t0, .* every state up to \d+ events/.test(warning?.message ?? '')],
    [`ended within 200 s (took ${seconds.toFixed(1)} s)`, seconds < 200],
    [`heap under 3 GiB (${Math.round((e?.heapBytes ?? 0) / 2 ** 20)} MiB)`, (e?.heapBytes ?? Infinity) < 3 * 2 ** 30],
  ];
  for (const [what, ok] of verdicts) console.log(`${what}: ${ok ? 'target met' : 'TARGET MISSED'}`);
  failed = verdicts.some(([, ok]) => !ok);
  if (r.status !== 0) console.log(r.stderr);
} finally {
  rmSync(root, { recursive: true, force: true });
}
process.exitCode = failed ? 1 : 0;

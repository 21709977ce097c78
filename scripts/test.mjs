#!/usr/bin/env node
// The README's test commands. `npm test` (node scripts/test.mjs): sets up the kernel environment (Debian packages,
// corpus extraction), a kallsyms dump of the real kernel, the split kernel and the TypeScript build, runs every
// vitest suite, and closes with "N passed, N failed". `npm run test:quick` (--quick): the fast tier of
// test/tiers.ts (KLP_TEST_TIER=quick), no qemu run and no kernel build by any test (the kallsyms dump is made once
// when not cached).
// Every set-up step prints a line when it starts and when it ends, with its time; the kernel build prints its own
// progress every 30 s. Arguments after the options go to vitest.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const args = process.argv.slice(2);
const quick = args[0] === '--quick';
const vitestArgs = quick ? args.slice(1) : args;
const t0 = Date.now();
const since = (t) => `${((Date.now() - t) / 1000).toFixed(0)} s`;
const say = (line) => console.log(`test: ${line} (${since(t0)} since start)`);

/** Runs a step; its stderr (the scripts' notes and progress) goes to ours as it comes, its stdout is kept. */
function step(name, cmd, argv, env = {}) {
  const t = Date.now();
  say(`${name} ...`);
  return new Promise((done) => {
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.on('close', (code) => {
      say(`${name}: ${code === 0 ? 'done' : `failed (exit ${code})`} in ${since(t)}`);
      done({ code, stdout });
    });
  });
}

function setupFailed(what) {
  console.error(`test: ${what} (see above)`);
  console.log('0 passed, 1 failed');
  process.exit(2);
}

if ((await step('kernel environment (scripts/kernel-env.sh)', 'bash', ['scripts/kernel-env.sh'])).code !== 0) setupFailed('the kernel environment could not be set up');
// The real vmlinux symbol table: Debian's 6.1 kernel booted under qemu, /proc/kallsyms cached. The split livepatch
// kernel (Debian's 6.1 with kernel/patches applied, cached by source version and patch hash) builds beside it: a
// cold build is minutes of CPU, a cached one a second.
const [kallsyms, splitKernel] = await Promise.all([
  step('kallsyms dump of the real kernel (scripts/qemu-kernel.sh kallsyms)', 'bash', ['scripts/qemu-kernel.sh', 'kallsyms']),
  quick ? { code: 0 } : step('split livepatch kernel (scripts/split-kernel.sh build)', 'bash', ['scripts/split-kernel.sh', 'build'], { KLP_SPLIT_KERNEL_NICE: '0' }),
]);
if (kallsyms.code !== 0) setupFailed('no kallsyms dump from the real kernel');
if (splitKernel.code !== 0) setupFailed('the split livepatch kernel could not be built');
if ((await step('TypeScript build (tsc -b)', 'npx', ['tsc', '-b'])).code !== 0) {
  console.log('0 passed, 1 failed');
  process.exit(1);
}

const dir = mkdtempSync(join(tmpdir(), 'klp-split-test-'));
const report = join(dir, 'vitest.json');
say(`vitest (${quick ? 'the quick tier' : 'every suite'}) ...`);
const vitest = await new Promise((done) => {
  const child = spawn('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...vitestArgs], {
    stdio: 'inherit',
    env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', ...(quick ? { KLP_TEST_TIER: 'quick' } : {}) },
  });
  child.on('close', (code) => done(code));
});
let passed = 0;
let failed = 0;
if (existsSync(report)) {
  const r = JSON.parse(readFileSync(report, 'utf8'));
  passed = r.numPassedTests;
  failed = r.numFailedTests + (r.numRuntimeErrorTestSuites ?? 0);
  if (r.numFailedTestSuites && !r.numFailedTests) failed += r.numFailedTestSuites;
} else {
  failed = 1;
}
rmSync(dir, { recursive: true, force: true });
say('vitest: done');
console.log(`${passed} passed, ${failed} failed`);
process.exit(vitest === 0 && failed === 0 ? 0 : 1);

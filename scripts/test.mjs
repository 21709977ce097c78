#!/usr/bin/env node
// The README's test commands. `npm test` (node scripts/test.mjs): sets up the kernel environment (Debian packages,
// corpus extraction), a kallsyms dump of the real kernel, the split kernel and the TypeScript build, runs every
// vitest suite, and closes with "N passed, N failed". `npm run test:quick` (--quick): the fast tier of
// test/tiers.ts (KLP_TEST_TIER=quick), no qemu run and no kernel build by any test (the kallsyms dump is made once
// when not cached).
// Every set-up step prints a line when it starts and when it ends, with its time; the kernel build prints its own
// progress every 30 s. The split kernel builds beside the suites (those that need it wait for it: the script's lock),
// so its build's serial stretches (extraction, configuration, links) and the suites' waits fill each other's idle
// CPU. kbuild runs, the kernel build's and the suites', go through scripts/test-toolchain.sh's environment (ccache,
// an nm that loads one plugin). Arguments after the options go to vitest.
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
const toolchain = await step('compiler environment (scripts/test-toolchain.sh)', 'bash', ['scripts/test-toolchain.sh']);
if (toolchain.code !== 0) setupFailed('the compiler environment could not be set up');
const kbuildEnv = Object.fromEntries(
  toolchain.stdout
    .split('\n')
    .filter((l) => /^[A-Z_]+=/.test(l))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
);
// The split livepatch kernel (Debian's 6.1 with kernel/patches applied, cached by source version and patch hash):
// a cold build is minutes of CPU, a cached one a second. It is not waited for here.
const splitKernel = quick ? Promise.resolve({ code: 0 }) : step('split livepatch kernel (scripts/split-kernel.sh build)', 'bash', ['scripts/split-kernel.sh', 'build'], { KLP_SPLIT_KERNEL_NICE: '0', ...kbuildEnv });
// The real vmlinux symbol table: Debian's 6.1 kernel booted under qemu, /proc/kallsyms cached.
if ((await step('kallsyms dump of the real kernel (scripts/qemu-kernel.sh kallsyms)', 'bash', ['scripts/qemu-kernel.sh', 'kallsyms'])).code !== 0) setupFailed('no kallsyms dump from the real kernel');
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
    env: { ...process.env, ...kbuildEnv, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', ...(quick ? { KLP_TEST_TIER: 'quick' } : {}) },
  });
  child.on('close', (code) => done(code));
});
// The suites that needed the kernel waited for it and failed with its script's message if it failed; this says so once more.
const kernelBuilt = (await splitKernel).code === 0;
if (!kernelBuilt) console.error('test: the split livepatch kernel could not be built (see scripts/split-kernel.sh above)');
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
if (!kernelBuilt && failed === 0) failed = 1;
console.log(`${passed} passed, ${failed} failed`);
process.exit(vitest === 0 && failed === 0 ? 0 : 1);

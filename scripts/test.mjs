#!/usr/bin/env node
// The README's test command: sets up the kernel environment (Debian packages,
// corpus extraction, a kallsyms dump of the real kernel), builds the TypeScript, runs every vitest suite, and
// closes with "N passed, N failed".
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const run = (cmd, args, opts = {}) => spawnSync(cmd, args, { stdio: 'inherit', ...opts });

const env = run('bash', ['scripts/kernel-env.sh'], { stdio: ['ignore', 'ignore', 'inherit'] });
if (env.status !== 0) {
  console.error('test: the kernel environment could not be set up (see above)');
  console.log('0 passed, 1 failed');
  process.exit(2);
}
// The real vmlinux symbol table: Debian's 6.1 kernel booted under qemu, /proc/kallsyms cached.
const kallsyms = run('bash', ['scripts/qemu-kernel.sh', 'kallsyms'], { stdio: ['ignore', 'ignore', 'inherit'] });
if (kallsyms.status !== 0) {
  console.error('test: no kallsyms dump from the real kernel (see above)');
  console.log('0 passed, 1 failed');
  process.exit(2);
}
// The split livepatch kernel (Debian's 6.1 with kernel/patches applied), built once per machine and cached by
// source version and patch hash: about 8 minutes cold on 2 cores, a second when cached.
const splitKernel = run('bash', ['scripts/split-kernel.sh', 'build'], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, KLP_SPLIT_KERNEL_NICE: '0' } });
if (splitKernel.status !== 0) {
  console.error('test: the split livepatch kernel could not be built (see above)');
  console.log('0 passed, 1 failed');
  process.exit(2);
}
const tsc = run('npx', ['tsc', '-b']);
if (tsc.status !== 0) {
  console.log('0 passed, 1 failed');
  process.exit(1);
}

const dir = mkdtempSync(join(tmpdir(), 'klp-split-test-'));
const report = join(dir, 'vitest.json');
const vitest = run('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...process.argv.slice(2)], {
  env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false' },
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
console.log(`${passed} passed, ${failed} failed`);
process.exit(vitest.status === 0 && failed === 0 ? 0 : 1);

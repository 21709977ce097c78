#!/usr/bin/env node
// The README's main command: split, build and verify the example kernel
// workspace's livepatch with Nx (cached like any Nx task).
import { spawnSync } from 'node:child_process';

const env = { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false' };
const kernel = spawnSync('bash', ['scripts/kernel-env.sh'], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
if (kernel.status !== 0) process.exit(2);
console.log(`kernel environment:\n${kernel.stdout.replace(/^/gm, '  ')}`);
const nx = spawnSync('npx', ['nx', 'run-many', '-t', 'verify', '--output-style=static', ...process.argv.slice(2)], { stdio: 'inherit', env });
process.exit(nx.status ?? 1);

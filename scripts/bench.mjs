#!/usr/bin/env node
// Runs every benchmark in bench/ (files named *.bench.mjs) one after another.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';

const benches = readdirSync('bench').filter((f) => f.endsWith('.bench.mjs')).sort();
let status = 0;
for (const b of benches) {
  console.log(`== bench/${b}`);
  const r = spawnSync('node', ['--expose-gc', `bench/${b}`], { stdio: 'inherit' });
  if (r.status !== 0) status = 1;
}
process.exit(status);

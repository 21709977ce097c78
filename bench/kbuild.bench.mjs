// Kbuild benchmark (issue 4): a generated livepatch of 20 objects is split
// and built from scratch, then rebuilt after touching one per-object source.
// Reports both times and their ratio (target <= 0.25), all in one run.
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSplit } from '../packages/kbuild-gen/dist/index.js';
import { discoverKernelTree } from '../packages/kernel-facts/dist/index.js';
import { splitSource } from '../packages/splitter/dist/index.js';
import { writeSplitFiles } from './write-split.mjs';
import { generateLivepatch } from './gen-livepatch.mjs';

const OBJECTS = 20;
const ROUNDS = 3;
const tree = discoverKernelTree();

async function timed(fn) {
  const t0 = process.hrtime.bigint();
  const r = await fn();
  if (!r.ok) throw new Error(`build failed:\n${r.output}`);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

const rows = [];
for (let round = 0; round < ROUNDS; round++) {
  const dir = mkdtempSync(join(tmpdir(), 'klp-split-kbuild-bench-'));
  try {
    const src = generateLivepatch(OBJECTS, 10);
    const result = splitSource('bench-fix.c', src);
    writeSplitFiles(dir, result.files);
    const full = await timed(() => buildSplit(dir, tree));
    await new Promise((r) => setTimeout(r, 1100));
    appendFileSync(join(dir, 'bench-fix__bench-mod7.c'), '/* touched */\n');
    const touched = await timed(() => buildSplit(dir, tree));
    rows.push({ full, touched });
    console.log(`round ${round + 1}: full build of ${OBJECTS + 1} modules ${(full / 1000).toFixed(2)} s, rebuild after touching one per-object source ${(touched / 1000).toFixed(2)} s, ratio ${(touched / full).toFixed(3)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const ratios = rows.map((r) => r.touched / r.full).sort((a, b) => a - b);
const median = ratios[Math.floor(ratios.length / 2)];
console.log(`machine: ${cpus().length} x ${cpus()[0]?.model}; make -j${cpus().length}`);
console.log(`median ratio touched/full: ${median.toFixed(3)} (target <= 0.25) ${median <= 0.25 ? 'target met' : 'TARGET MISSED'}`);

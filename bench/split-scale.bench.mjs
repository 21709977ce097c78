// Split time against input size, up to the 8 MiB input limit (issue 20: 10k #defines took 12 s, 40k 138 s, 80k
// more than 300 s). Each shape of bench/gen-scale.mjs at 0.5, 2 and just under 8 MiB, split in this process;
// reported as time per MiB and its ratio to the smallest size, all measured in this run.
// Target: linear time, time per MiB at 8 MiB <= 2x the time per MiB at 0.5 MiB, for every shape.
import { cpus } from 'node:os';
import { INPUT_LIMITS } from '../packages/core/dist/index.js';
import { splitSource } from '../packages/splitter/dist/index.js';
import { SHAPES } from './gen-scale.mjs';

const MIB = 2 ** 20;
const SIZES = [0.5 * MIB, 2 * MIB, INPUT_LIMITS.source - 64 * 1024];
const only = process.argv.slice(2);

function timeSplit(src) {
  globalThis.gc?.();
  const t0 = process.hrtime.bigint();
  const r = splitSource('scale.c', src);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.kind !== 'split') throw new Error(`split failed: ${r.kind}: ${r.diagnostics.map((d) => d.message).join('; ')}`);
  return ms;
}

console.log(`machine: ${cpus().length} x ${cpus()[0]?.model}, node ${process.version}; one split per size (wall time)`);
let ok = true;
for (const [shape, make] of Object.entries(SHAPES)) {
  if (only.length && !only.includes(shape)) continue;
  timeSplit(make(64 * 1024)); // warm-up
  const rows = SIZES.map((bytes) => {
    const src = make(bytes);
    const ms = timeSplit(src);
    return { mib: src.length / MIB, ms, perMib: ms / (src.length / MIB) };
  });
  const base = rows[0].perMib;
  for (const r of rows) {
    console.log(`${shape.padEnd(16)} ${r.mib.toFixed(2).padStart(5)} MiB: ${(r.ms / 1000).toFixed(2).padStart(6)} s, ${(r.perMib / 1000).toFixed(2)} s/MiB, x${(r.perMib / base).toFixed(2)} the smallest's time per MiB`);
  }
  const worst = Math.max(...rows.map((r) => r.perMib / base));
  if (worst > 2) ok = false;
}
console.log(ok ? 'targets met (time per MiB within 2x of the smallest input, every shape)' : 'TARGETS MISSED');

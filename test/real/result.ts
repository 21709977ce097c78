import { existsSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { inject } from 'vitest';
import { removeDir, tempDir } from '../helpers/env.js';
import { QUICK } from '../tiers.js';
import { errorFile, readResult, resultFile, runBatches, type BatchResult, type RealBatch } from './batch.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The run directory of test/real/global-setup.ts and the batches it runs there. */
    klpRealBatches?: { dir: string; batches: string[] };
  }
}

/** Scratch directories of batches run alone, removed when the process ends. */
const alone: string[] = [];
process.once('exit', () => alone.forEach(removeDir));

/**
 * The result of a suite's real-kernel batch: from the vitest run's shared
 * boot (test/real/global-setup.ts) when it runs there, else from a boot of
 * its own (a run without the global set-up). Throws when the batch could not
 * be run, with the reason.
 */
export function realBatch<D>(batch: RealBatch<D>): Promise<BatchResult<D>> {
  if (QUICK) throw new Error(`${batch.suite} boots a kernel under qemu: list it in REAL_KERNEL of test/tiers.ts (the quick tier has no qemu)`);
  const result = waitForBatch(batch);
  // A suite may start it, do its own work, and await it later: no unhandled rejection meanwhile.
  result.catch(() => undefined);
  return result;
}

async function waitForBatch<D>(batch: RealBatch<D>): Promise<BatchResult<D>> {
  const shared = inject('klpRealBatches');
  let dir: string;
  if (shared?.batches.includes(batch.name)) {
    dir = shared.dir;
    while (!existsSync(resultFile(dir, batch.name)) && !existsSync(errorFile(dir, batch.name))) await sleep(500);
  } else {
    dir = tempDir(`real-${batch.name}`);
    alone.push(dir);
    await runBatches(batch.kernel, [batch], dir);
  }
  if (existsSync(errorFile(dir, batch.name))) throw new Error(readFileSync(errorFile(dir, batch.name), 'utf8'));
  return readResult<D>(resultFile(dir, batch.name));
}

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import type { TestProject } from 'vitest/node';
import { errorFile, runBatches, type RealBatch } from './batch.js';
import { REAL_BATCHES } from './registry.js';

/**
 * vitest's global set-up: the real-kernel batches of the suites in this run
 * (test/real/registry.ts), one boot per kernel, started when the run starts
 * and run beside the suites (a guest mostly waits, so the suites' CPU work
 * goes on meanwhile); each suite waits for its batch's result in its own
 * time (test/real/result.ts). The run directory goes when the run ends.
 */
export default function setup(project: TestProject): () => Promise<void> {
  const root = resolve(project.config.root);
  const files = new Set(project.vitest.state.getPaths().map((f) => relative(root, resolve(f))));
  const batches = REAL_BATCHES.filter((b) => files.has(b.suite));
  const dir = mkdtempSync(join(tmpdir(), 'klp-split-real-'));
  project.provide('klpRealBatches', { dir, batches: batches.map((b) => b.name) });
  const byKernel = new Map<string, RealBatch[]>();
  for (const b of batches) byKernel.set(b.kernel, [...(byKernel.get(b.kernel) ?? []), b]);
  const started = Date.now();
  const running = [...byKernel].map(async ([kernel, list]) => {
    try {
      const { reusedFrom } = await runBatches(kernel as RealBatch['kernel'], list, dir);
      const kept = reusedFrom ? `, the kept qemu run of ${reusedFrom} (same kernel, scripts, scenario and modules; KLP_TEST_REAL_RUNS=fresh boots again)` : '';
      console.log(`real-kernel batches on the ${kernel} kernel (${list.map((b) => b.name).join(', ')}): done in ${((Date.now() - started) / 1000).toFixed(0)} s${kept}`);
    } catch (e) {
      for (const b of list) writeFileSync(errorFile(dir, b.name), `the real-kernel batches failed: ${(e as Error).stack ?? e}`);
    }
  });
  return async () => {
    await Promise.all(running);
    rmSync(dir, { recursive: true, force: true });
  };
}

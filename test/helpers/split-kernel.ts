import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { QUICK } from '../tiers.js';
import { ROOT } from './env.js';

/**
 * The split livepatch kernel (scripts/split-kernel.sh: Debian's 6.1 with the
 * project's kernel/patches, built once and cached); its runs under qemu are
 * real-kernel batches (test/real/batch.ts) with kernel 'split'.
 */

export interface SplitKernel {
  /** The build tree: kbuild's -C for modules, with the split API in include/linux/livepatch.h. */
  kdir: string;
  release: string;
  /** How long scripts/split-kernel.sh took (a cache hit is about a second). */
  ms: number;
}

/** Builds the split kernel unless it is cached (a cold build takes minutes). */
export async function splitKernel(): Promise<SplitKernel> {
  if (QUICK) throw new Error('this suite needs the split kernel: list it in REAL_KERNEL of test/tiers.ts (the quick tier builds no kernel)');
  const t0 = performance.now();
  const r = await execa('bash', ['scripts/split-kernel.sh', 'kdir'], { cwd: ROOT, reject: false, timeout: 60 * 60_000 });
  if (r.exitCode !== 0) throw new Error(`scripts/split-kernel.sh failed (exit ${r.exitCode}):\n${String(r.stderr).slice(-4000)}`);
  const kdir = String(r.stdout).trim();
  const release = readFileSync(join(kdir, 'include/config/kernel.release'), 'utf8').trim();
  return { kdir, release, ms: performance.now() - t0 };
}

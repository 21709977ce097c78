import { cpSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { klpSplit, ROOT } from './env.js';

/**
 * The klp-convert-style livepatches of test/fixtures/split-real (issue 21)
 * and their targets: shared by the suite on Debian's headers and the one on
 * the real split kernel.
 */
export const SPLIT_REAL = join(ROOT, 'test/fixtures/split-real');

export interface SplitRealFixture {
  name: string;
  /** The target modules the livepatch fixes. */
  targets: string[];
  /** Diagnostic codes the split reports (warnings). */
  warnings: string[];
  /** Lines the modules print on a real kernel (their printk), whatever the load order. */
  prints: string[];
}

export function splitRealFixtures(): SplitRealFixture[] {
  return readdirSync(SPLIT_REAL)
    .filter((d) => existsSync(join(SPLIT_REAL, d, 'fixture.json')))
    .sort()
    .map((name) => ({ name, warnings: [], prints: [], ...JSON.parse(readFileSync(join(SPLIT_REAL, name, 'fixture.json'), 'utf8')) }));
}

/** Builds the fixtures' target modules into `dir` (against `kdir`, default the installed headers). */
export async function splitRealTargets(dir: string, kdir?: string): Promise<void> {
  cpSync(join(SPLIT_REAL, 'targets'), dir, { recursive: true });
  const r = await klpSplit(['build', dir, '-q', ...(kdir ? ['--kdir', kdir] : [])]);
  if (r.code !== 0) throw new Error(`building the split-real targets failed:\n${r.stdout}${r.stderr}`);
}

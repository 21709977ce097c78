import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { klpSplit, ROOT } from './env.js';
import { sharedFixture } from './fixtures.js';

/** The target modules of test/fixtures/livepatches (klpr_target, klpr_alpha, ...). */
export const LIVEPATCH_TARGETS = join(ROOT, 'test/fixtures/livepatches/targets');

/** Those targets built by `klp-split build`: a shared fixture (read only), its directory with their .ko files and Module.symvers. */
export async function livepatchTargets(): Promise<string> {
  return sharedFixture('livepatch-targets', { files: [LIVEPATCH_TARGETS] }, async (d) => {
    cpSync(LIVEPATCH_TARGETS, d, { recursive: true });
    const t = await klpSplit(['build', d, '-q']);
    if (t.code !== 0) throw new Error(`building the targets failed:\n${t.stdout}${t.stderr}`);
  });
}

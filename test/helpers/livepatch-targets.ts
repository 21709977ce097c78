import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { klpSplit, ROOT } from './env.js';
import { sharedFixture } from './fixtures.js';

/**
 * Target modules the fixture livepatches patch, built once by `klp-split
 * build -q` against Debian's headers: shared fixtures, read only (copy one
 * before building in it).
 */

/** test/fixtures/livepatches/targets: klpr_target, klpr_alpha ... klpr_eps. */
export const LIVEPATCH_TARGETS = join(ROOT, 'test/fixtures/livepatches/targets');
/** test/fixtures/klp-relocs/klpr-mod: the module whose symbols klpr-fix.c relocates against. */
export const KLPR_MOD = join(ROOT, 'test/fixtures/klp-relocs/klpr-mod');

async function built(name: string, source: string): Promise<string> {
  return sharedFixture(name, { files: [source] }, async (d) => {
    cpSync(source, d, { recursive: true });
    const b = await klpSplit(['build', d, '-q']);
    if (b.code !== 0) throw new Error(`building ${source} failed:\n${b.stdout}${b.stderr}`);
  });
}

/** The livepatch targets built (the fixture real-livepatches.test.ts builds under the same name and key). */
export const livepatchTargets = (): Promise<string> => built('livepatch-targets', LIVEPATCH_TARGETS);

export const klprModBuilt = (): Promise<string> => built('klpr-mod', KLPR_MOD);

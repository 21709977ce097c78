import { corpusModules, corpusSplits } from '../helpers/corpus.js';
import { copyFixture } from '../helpers/fixtures.js';

/**
 * A real split livepatch, built with kbuild, for the classes that fuzz what
 * verify and simulate read (manifests, build records, scenarios, paths):
 * livepatch-shadow-fix1 split and built, and its target livepatch-shadow-mod
 * built, both from the shared corpus fixtures (test/helpers/corpus.ts);
 * every case works on its own copy.
 */

export interface BuiltSplit {
  /** The split output: klp-split.json, the sources, the .ko files, .klp-split/build.json. */
  dir: string;
  /** livepatch-shadow-mod.ko */
  target: string;
  patch: string;
}

export async function builtSplit(): Promise<BuiltSplit> {
  const [splits, modules] = await Promise.all([corpusSplits(), corpusModules()]);
  const b = splits.build('livepatch-shadow-fix1');
  if (b.code !== 0) throw new Error(`the fixture's build of livepatch-shadow-fix1 failed:\n${b.stdout}\n${b.stderr}`);
  return { dir: splits.dir('livepatch-shadow-fix1'), target: modules.ko('livepatch-shadow-mod'), patch: 'livepatch_shadow_fix1' };
}

/** A private copy of the built split for one case. */
export function copyBuilt(b: BuiltSplit, to: string): string {
  return copyFixture(b.dir, to);
}

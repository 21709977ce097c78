import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { corpusModules, corpusSplits } from '../helpers/corpus.js';
import { copyFixture, sharedFixture } from '../helpers/fixtures.js';
import { klpSplit, ROOT } from '../helpers/env.js';

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

/**
 * A split whose modules carry livepatch relocations (test/fixtures/klp-relocs:
 * the per-object part reaches its target's static symbols through
 * `.klp.rela.klpr_mod.text`, the main module vmlinux's through
 * `.klp.rela.vmlinux.text`), built with its target: the ELF-field fuzzing's input.
 */
export async function builtRelocSplit(): Promise<BuiltSplit & { part: string }> {
  const fixtures = join(ROOT, 'test/fixtures/klp-relocs');
  const cache = await sharedFixture('fuzz-reloc-split', { files: [fixtures] }, async (into) => {
    cpSync(join(fixtures, 'klpr-mod'), join(into, 'target'), { recursive: true });
    const t = await klpSplit(['build', join(into, 'target')]);
    if (t.code !== 0) throw new Error(`fixture target build failed:\n${t.stdout}\n${t.stderr}`);
    const out = join(into, 'split');
    const s = await klpSplit(['split', join(fixtures, 'livepatches/klpr-fix.c'), '--out', out]);
    if (s.code !== 0) throw new Error(`fixture split failed:\n${s.stdout}\n${s.stderr}`);
    const b = await klpSplit(['build', out, '--target', join(into, 'target/klpr-mod.ko')]);
    if (b.code !== 0) throw new Error(`fixture build failed:\n${b.stdout}\n${b.stderr}`);
  });
  return { dir: join(cache, 'split'), target: join(cache, 'target/klpr-mod.ko'), patch: 'klpr_fix', part: 'klpr-fix__klpr-mod.ko' };
}

/** A private copy of the built split for one case. */
export function copyBuilt(b: BuiltSplit, to: string): string {
  return copyFixture(b.dir, to);
}

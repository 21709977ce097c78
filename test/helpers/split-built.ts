import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { klpSplit } from './env.js';
import { sharedFixture } from './fixtures.js';

/**
 * Livepatch sources (file name -> text) each split by `klp-split split` and
 * its output built by `klp-split build`: a shared fixture keyed by the names
 * and texts (and the tool, the headers and gcc), for suites whose subject is
 * what comes after the build (verify, its model check, the simulator).
 * Returns each split's directory by the source's name without `.c`; read
 * only (copyFixture() before writing into one). Throws with the command's
 * output when a split or build fails.
 */
export async function splitAndBuilt(name: string, livepatches: Record<string, string>): Promise<(stem: string) => string> {
  const entries = Object.entries(livepatches).sort(([a], [b]) => a.localeCompare(b));
  const top = await sharedFixture(name, { facts: entries.map(([file, text]) => `${file}\0${text}`) }, async (dir) => {
    mkdirSync(join(dir, 'src'));
    for (const [file, text] of entries) {
      const src = join(dir, 'src', file);
      writeFileSync(src, text);
      const out = join(dir, file.replace(/\.c$/, ''));
      const s = await klpSplit(['split', src, '--out', out]);
      if (s.code !== 0) throw new Error(`klp-split split of ${file} (the ${name} fixture) failed:\n${s.stdout}\n${s.stderr}`);
      const b = await klpSplit(['build', out, '-q']);
      if (b.code !== 0) throw new Error(`klp-split build of the split of ${file} (the ${name} fixture) failed:\n${b.stdout}\n${b.stderr}`);
    }
  });
  return (stem) => join(top, stem);
}

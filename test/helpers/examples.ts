import { cpSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { klpSplit, ROOT } from './env.js';
import { sharedFixture } from './fixtures.js';

/**
 * The example workspace's modules (examples/modules) and its livepatch
 * (examples/livepatches/klpd-fix) split and built, for Debian's headers or
 * for another tree (the split kernel's): a shared fixture, read only.
 */

export const EXAMPLE_TARGETS = ['klpd-counter', 'klpd-parser', 'klpd-ticker'];
export const EXAMPLE_FIX_SOURCE = join(ROOT, 'examples/livepatches/klpd-fix/klpd-fix.c');

export interface ExampleBuild {
  /** Each target's directory (its sources, Kbuild and .ko), by name. */
  targetDir: (name: string) => string;
  /** Each target's .ko, in EXAMPLE_TARGETS order. */
  targets: string[];
  /** klpd-fix split by `klp-split split` and built. */
  fix: string;
  /** The split's modules (.ko), main module first. */
  fixModules: string[];
}

export async function exampleBuild(kdir?: string): Promise<ExampleBuild> {
  const tree = kdir ? ['--kdir', kdir] : [];
  const dir = await sharedFixture('examples', { files: [...EXAMPLE_TARGETS.map((t) => join(ROOT, 'examples/modules', t)), EXAMPLE_FIX_SOURCE], facts: kdir ? [`kdir ${kdir}`] : [] }, async (d) => {
    for (const t of EXAMPLE_TARGETS) {
      cpSync(join(ROOT, 'examples/modules', t), join(d, t), { recursive: true });
      const r = await klpSplit(['build', join(d, t), '-q', ...tree]);
      if (r.code !== 0) throw new Error(`building ${t} failed:\n${r.stdout}\n${r.stderr}`);
    }
    const split = await klpSplit(['split', EXAMPLE_FIX_SOURCE, '--out', join(d, 'klpd-fix')]);
    if (split.code !== 0) throw new Error(`splitting klpd-fix failed:\n${split.stderr}`);
    const b = await klpSplit(['build', join(d, 'klpd-fix'), '-q', ...tree]);
    if (b.code !== 0) throw new Error(`building the split of klpd-fix failed:\n${b.stdout}\n${b.stderr}`);
  });
  const fix = join(dir, 'klpd-fix');
  const fixModules = readdirSync(fix).filter((f) => f.endsWith('.ko')).sort().map((f) => join(fix, f));
  return { targetDir: (t) => join(dir, t), targets: EXAMPLE_TARGETS.map((t) => join(dir, t, `${t}.ko`)), fix, fixModules };
}

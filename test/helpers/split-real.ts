import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { klpSplit, ROOT } from './env.js';
import { sharedFixture, type BuildOutcome } from './fixtures.js';

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

/** The fixtures' target modules built (against `kdir`, default the installed headers): a shared fixture, read only. */
export async function splitRealTargetsBuilt(kdir?: string): Promise<string> {
  return sharedFixture('split-real-targets', { files: [join(SPLIT_REAL, 'targets')], facts: kdir ? [`kdir ${kdir}`] : [] }, (d) => splitRealTargets(d, kdir));
}

export interface SplitRealBuilt {
  /** The targets' directory (their .ko files). */
  targets: string;
  /** A fixture's split output, built. */
  dir: (name: string) => string;
  /** `klp-split split <source> --out <dir> --target ... --json` (with --kdir for another tree). */
  split: (name: string) => BuildOutcome;
  /** `klp-split build <dir> --target ... --json -q` (with --kdir for another tree). */
  build: (name: string) => BuildOutcome;
}

/**
 * Every fixture split with its targets' symbols and built, for the installed
 * headers or the tree `kdir` (the split kernel's): a shared fixture keyed by
 * the fixtures, the targets' build and the tree. Each command's exit status
 * and output are kept for the suites whose subject they are; a split or build
 * that fails is kept as it is, for them to report.
 */
export async function splitRealBuilt(kdir?: string): Promise<SplitRealBuilt> {
  const targets = await splitRealTargetsBuilt(kdir);
  const tree = kdir ? ['--kdir', kdir] : [];
  const targetArgs = (f: SplitRealFixture): string[] => f.targets.flatMap((t) => ['--target', join(targets, `${t}.ko`)]);
  const fixtures = splitRealFixtures();
  const top = await sharedFixture('split-real-splits', { files: [SPLIT_REAL], facts: [...(kdir ? [`kdir ${kdir}`] : []), `targets ${targets}`] }, async (d) => {
    const keep = (f: SplitRealFixture, what: string, r: BuildOutcome) => writeFileSync(join(d, `${f.name}.${what}.json`), JSON.stringify(r));
    for (const f of fixtures) keep(f, 'split', await klpSplit(['split', join(SPLIT_REAL, f.name, `${f.name}.c`), '--out', join(d, f.name), ...tree, ...targetArgs(f), '--json']));
    // Two at a time: much of a kbuild run is make reading the tree's Makefiles, one process.
    const queue = [...fixtures];
    const worker = async (): Promise<void> => {
      for (let f = queue.shift(); f; f = queue.shift()) keep(f, 'build', await klpSplit(['build', join(d, f.name), ...tree, ...targetArgs(f), '--json', '-q']));
    };
    await Promise.all([worker(), worker()]);
  });
  const kept = (name: string, what: string): BuildOutcome => JSON.parse(readFileSync(join(top, `${name}.${what}.json`), 'utf8')) as BuildOutcome;
  return { targets, dir: (name) => join(top, name), split: (name) => kept(name, 'split'), build: (name) => kept(name, 'build') };
}

import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { klpSplit, libLivepatch, samples } from './env.js';
import { sharedFixture } from './fixtures.js';

/** Every livepatch-related C source of linux-source-6.1 the splitter must handle. */
export function corpusSources(): string[] {
  const list = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.c')).sort().map((f) => `${dir}/${f}`);
  return [...list(samples()), ...list(libLivepatch())];
}

/** A corpus source by its base name (samples/livepatch or lib/livepatch). */
export function corpusSource(base: string): string {
  return base.startsWith('test_') ? libLivepatch(`${base}.c`) : samples(`${base}.c`);
}

/** The ten livepatches of the corpus, by file base name. */
export const CORPUS_LIVEPATCHES = [
  'livepatch-callbacks-demo',
  'livepatch-sample',
  'livepatch-shadow-fix1',
  'livepatch-shadow-fix2',
  'test_klp_atomic_replace',
  'test_klp_callbacks_demo',
  'test_klp_callbacks_demo2',
  'test_klp_livepatch',
  'test_klp_state',
  'test_klp_state2',
];

/** The livepatches the splitter splits: the ten, and test_klp_state3 (which includes test_klp_state2.c). */
export const CORPUS_SPLITS = [...CORPUS_LIVEPATCHES, 'test_klp_state3'].sort();

/** The four whose objects include kernel modules, with their per-object modules. */
export const CORPUS_PER_OBJECT: Record<string, string[]> = {
  'livepatch-callbacks-demo': ['livepatch_callbacks_demo__livepatch_callbacks_mod', 'livepatch_callbacks_demo__livepatch_callbacks_busymod'],
  'livepatch-shadow-fix1': ['livepatch_shadow_fix1__livepatch_shadow_mod'],
  'livepatch-shadow-fix2': ['livepatch_shadow_fix2__livepatch_shadow_mod'],
  test_klp_callbacks_demo: ['test_klp_callbacks_demo__test_klp_callbacks_mod', 'test_klp_callbacks_demo__test_klp_callbacks_busy'],
};

/** Target modules (not livepatches). */
export const CORPUS_TARGETS = [
  'livepatch-callbacks-busymod',
  'livepatch-callbacks-mod',
  'livepatch-shadow-mod',
  'test_klp_callbacks_busy',
  'test_klp_callbacks_mod',
  'test_klp_shadow_vars',
];

/** Five corpus modules, targets and livepatches, whose built .ko files the ELF reader's tests read. */
export const ELF_SAMPLES = ['livepatch-shadow-mod', 'livepatch-shadow-fix1', 'livepatch-callbacks-mod', 'test_klp_livepatch', 'test_klp_callbacks_demo'];

export interface BuiltModules {
  dir: string;
  /** A module's .ko by its source's base name (with or without .c). */
  ko: (name: string) => string;
}

const built = (dir: string): BuiltModules => ({ dir, ko: (name) => join(dir, `${name.replace(/\.c$/, '')}.ko`) });

/** The kernel trees a fixture is built for: Debian's headers (the default) or another tree (the split kernel's). */
const treeArgs = (kdir?: string): string[] => (kdir ? ['--kdir', kdir] : []);

async function buildInto(dir: string, sources: string[], kdir?: string): Promise<void> {
  for (const s of sources) cpSync(s, join(dir, s.replace(/^.*\//, '')));
  const r = await klpSplit(['build', dir, '-q', ...treeArgs(kdir)]);
  if (r.code !== 0) throw new Error(`building ${dir} failed:\n${r.stdout}\n${r.stderr}`);
}

/**
 * Every corpus source built unmodified against Debian's headers in one
 * `klp-split build` (each .c one module: the targets, and the livepatches as
 * classic livepatches): a shared fixture (test/helpers/fixtures.ts).
 */
export async function corpusModules(): Promise<BuiltModules> {
  const sources = corpusSources();
  return built(await sharedFixture('corpus-modules', { files: sources }, (dir) => buildInto(dir, sources)));
}

/** The corpus's target modules built unmodified for the kernel tree `kdir` (the split kernel's): a shared fixture. */
export async function corpusTargets(kdir: string): Promise<BuiltModules> {
  const sources = CORPUS_TARGETS.map(corpusSource);
  return built(await sharedFixture('corpus-targets', { files: sources, facts: [`kdir ${kdir}`] }, (dir) => buildInto(dir, sources, kdir)));
}

/** What `klp-split build <split> --json` did for one corpus livepatch. */
export interface SplitBuild {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CorpusSplits {
  /** The split output of a livepatch (klp-split split <source> --out <dir>), built. */
  dir: (base: string) => string;
  /** Its build's result. */
  build: (base: string) => SplitBuild;
}

/**
 * Every corpus livepatch (CORPUS_SPLITS) split by `klp-split split` and built
 * by `klp-split build --json`, for Debian's headers or for the tree `kdir`:
 * a shared fixture. Each build's exit status and output are kept, so the
 * suite whose subject is the build asserts on them; a split that does not
 * build is kept as it is for that suite to report.
 */
export async function corpusSplits(kdir?: string): Promise<CorpusSplits> {
  const sources = CORPUS_SPLITS.map(corpusSource);
  const top = await sharedFixture('corpus-splits', { files: [...sources, libLivepatch('test_klp_state2.c')], facts: kdir ? [`kdir ${kdir}`] : [] }, async (dir) => {
    const queue = [...CORPUS_SPLITS];
    const worker = async (): Promise<void> => {
      for (let base = queue.shift(); base; base = queue.shift()) {
        const out = join(dir, base);
        const split = await klpSplit(['split', corpusSource(base), '--out', out]);
        if (split.code !== 0) throw new Error(`klp-split split ${base} failed:\n${split.stderr}`);
        const b = await klpSplit(['build', out, '--json', ...treeArgs(kdir)]);
        writeFileSync(join(dir, `${base}.build.json`), JSON.stringify({ code: b.code, stdout: b.stdout, stderr: b.stderr }));
      }
    };
    // Two at a time: much of a kbuild run is make reading the tree's Makefiles, one process.
    await Promise.all([worker(), worker()]);
  });
  return {
    dir: (base) => join(top, base),
    build: (base) => {
      const f = join(top, `${base}.build.json`);
      if (!existsSync(f)) throw new Error(`${base} is not a corpus livepatch (${CORPUS_SPLITS.join(', ')})`);
      return JSON.parse(readFileSync(f, 'utf8')) as SplitBuild;
    },
  };
}

import { readdirSync } from 'node:fs';
import { libLivepatch, samples } from './env.js';

/** Every livepatch-related C source of linux-source-6.1 the splitter must handle. */
export function corpusSources(): string[] {
  const list = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.c')).sort().map((f) => `${dir}/${f}`);
  return [...list(samples()), ...list(libLivepatch())];
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
export function elfSampleSources(): string[] {
  return [
    samples('livepatch-shadow-mod.c'),
    samples('livepatch-shadow-fix1.c'),
    samples('livepatch-callbacks-mod.c'),
    libLivepatch('test_klp_livepatch.c'),
    libLivepatch('test_klp_callbacks_demo.c'),
  ];
}

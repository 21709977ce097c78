import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readElf } from '@klp-split/kernel-facts';
import { applyRelocEdit } from '../../differential/reloc-edit.js';
import { SPLIT_FAULT_CASES, SPLIT_FAULT_EDITS, SPLIT_FAULT_MODULES } from '../../differential/split-catalogue.js';
import { classicSource, splitModuleSource } from '../../differential/split-module-source.js';
import { klpSplit } from '../../helpers/env.js';
import { sharedFixture } from '../../helpers/fixtures.js';
import { splitKernel } from '../../helpers/split-kernel.js';
import type { RealBatch } from '../batch.js';

/**
 * test/e2e/split-differential-faults.test.ts: split livepatch modules, each
 * case with one fault or one situation of the split design, on the split
 * kernel. Classic livepatches are split by klp-split (the natural input);
 * modules written with the split API and the targets are built directly, one
 * build with livepatch relocations and one without.
 */

export const CASES = SPLIT_FAULT_CASES;

const DIRECT = SPLIT_FAULT_MODULES.filter((m) => m.kind !== 'classic');
const isRaw = (name: string): boolean => DIRECT.some((m) => m.name === name && m.kind === 'part' && m.noKlpRelocs === true);

export interface SplitFaultModules {
  /** A classic livepatch's split output, built. */
  splitDir: (name: string) => string;
  /** A directly written module's (or target's) .ko. */
  handKo: (name: string) => string;
  /** Every .ko the guest installs. */
  kos: string[];
}

/** The catalogue's modules for the split kernel's tree (a shared fixture). */
export async function splitFaultModules(): Promise<SplitFaultModules> {
  const { kdir } = await splitKernel();
  const sources = SPLIT_FAULT_MODULES.map((m) => `${m.name}\0${m.kind === 'classic' ? classicSource(m) : splitModuleSource(m)}`);
  const dir = await sharedFixture('split-fault-modules', { facts: [...sources, ...SPLIT_FAULT_EDITS.map((e) => `${e.module}\0${String(e.edits)}`), `kdir ${kdir}`] }, async (d) => {
    for (const spec of SPLIT_FAULT_MODULES) {
      if (spec.kind !== 'classic') continue;
      const src = join(d, 'classic', `${spec.name}.c`);
      mkdirSync(join(d, 'classic'), { recursive: true });
      writeFileSync(src, classicSource(spec));
      const split = await klpSplit(['split', src, '--out', join(d, 'split', spec.name)]);
      if (split.code !== 0) throw new Error(`splitting ${spec.name} failed:\n${split.stderr}`);
      const built = await klpSplit(['build', join(d, 'split', spec.name), '-q', '--kdir', kdir]);
      if (built.code !== 0) throw new Error(`building the split ${spec.name} failed:\n${built.stdout}\n${built.stderr}`);
    }
    for (const raw of [false, true]) {
      const hand = join(d, raw ? 'hand-raw' : 'hand');
      mkdirSync(hand, { recursive: true });
      // The raw build has the targets too, so that modpost finds the exports its parts use (the .ko files installed are the other build's).
      for (const spec of DIRECT) if (isRaw(spec.name) === raw || (raw && spec.kind === 'target')) writeFileSync(join(hand, `${spec.name}.c`), splitModuleSource(spec));
      const built = await klpSplit(['build', hand, '-q', '--kdir', kdir, ...(raw ? ['--no-klp-relocs'] : [])]);
      if (built.code !== 0) throw new Error(`building the split-API modules failed:\n${built.stdout}\n${built.stderr}`);
    }
    // Faults written into the built ELF (relocation fields, symbol sections) that no C source can produce.
    for (const e of SPLIT_FAULT_EDITS) {
      const ko = join(d, isRaw(e.module) ? 'hand-raw' : 'hand', `${e.module}.ko`);
      for (const edit of e.edits(readElf(readFileSync(ko), ko))) applyRelocEdit(ko, edit);
    }
  });
  const splitDir = (name: string): string => join(dir, 'split', name);
  const handKo = (name: string): string => join(dir, isRaw(name) ? 'hand-raw' : 'hand', `${name}.ko`);
  const classic = SPLIT_FAULT_MODULES.filter((m) => m.kind === 'classic').flatMap((m) => readdirSync(splitDir(m.name)).filter((f) => f.endsWith('.ko')).map((f) => join(splitDir(m.name), f)));
  return { splitDir, handKo, kos: [...classic, ...DIRECT.map((m) => handKo(m.name))] };
}

export const splitFaultsBatch: RealBatch = {
  name: 'split-differential-faults',
  kernel: 'split',
  suite: 'test/e2e/split-differential-faults.test.ts',
  budgetS: 900,
  async prepare() {
    const { kos } = await splitFaultModules();
    return { kos, cases: CASES.map((c) => ({ id: c.id, steps: c.guestSteps ?? c.steps })), data: undefined };
  },
};

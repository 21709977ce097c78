import { join } from 'node:path';
import { targetSource } from '../../differential/module-source.js';
import { relocFaultCatalogue, type RelocFaultCase } from '../../differential/reloc-catalogue.js';
import { applyRelocEdit } from '../../differential/reloc-edit.js';
import { relocKernelFacts } from '../../differential/reloc-kernel-facts.js';
import { relocLivepatchSource } from '../../differential/reloc-module-source.js';
import { builtSources } from '../../helpers/fixtures.js';
import type { RealBatch } from '../batch.js';

/**
 * test/e2e/differential-reloc-faults.test.ts: classic livepatches whose
 * livepatch relocations `klp-split build` wrote, some then edited as a broken
 * tool would have written them, on Debian's 6.1.
 */
let cases: RelocFaultCase[] | undefined;
/** The catalogue, for this kernel's facts (read from its kallsyms dump when first asked). */
export function relocCases(): RelocFaultCase[] {
  return (cases ??= relocFaultCatalogue(relocKernelFacts()));
}

const specs = () => new Map(relocCases().flatMap((c) => c.modules).map((m) => [m.name, m]));

/** The catalogue's modules, built and edited (a shared fixture): the directory of their .ko files. */
export function relocFaultModules(): Promise<string> {
  const edits = relocCases().flatMap((c) => c.edits ?? []);
  const sources = Object.fromEntries([...specs().values()].map((m) => [`${m.name}.c`, m.kind === 'target' ? targetSource(m) : relocLivepatchSource(m)]));
  return builtSources('reloc-fault-modules', sources, {
    edit: { what: JSON.stringify(edits), apply: (dir) => edits.forEach((e) => applyRelocEdit(join(dir, `${e.module}.ko`), e.edit)) },
  });
}

export const relocFaultsBatch: RealBatch = {
  name: 'differential-reloc-faults',
  kernel: 'stock',
  suite: 'test/e2e/differential-reloc-faults.test.ts',
  budgetS: 420,
  async prepare() {
    const modules = await relocFaultModules();
    return { kos: [...specs().keys()].map((m) => join(modules, `${m}.ko`)), cases: relocCases(), data: undefined };
  },
};

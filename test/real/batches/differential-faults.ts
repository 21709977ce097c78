import { join } from 'node:path';
import { faultCatalogue, type FaultCase } from '../../differential/catalogue.js';
import { kernelFacts } from '../../differential/kernel-facts.js';
import { moduleSource } from '../../differential/module-source.js';
import { builtSources } from '../../helpers/fixtures.js';
import type { RealBatch } from '../batch.js';

/** test/e2e/differential-faults.test.ts: livepatch modules with one fault each, on Debian's 6.1. */
let cases: FaultCase[] | undefined;
/** The catalogue, for this kernel's facts (read from its kallsyms dump when first asked). */
export function faultCases(): FaultCase[] {
  return (cases ??= faultCatalogue(kernelFacts()));
}

const specs = () => new Map(faultCases().flatMap((c) => c.modules).map((m) => [m.name, m]));

/** The catalogue's modules, built (a shared fixture): the directory of their .ko files. */
export function faultModules(): Promise<string> {
  return builtSources('fault-modules', Object.fromEntries([...specs().values()].map((m) => [`${m.name}.c`, moduleSource(m)])));
}

export const faultsBatch: RealBatch = {
  name: 'differential-faults',
  kernel: 'stock',
  suite: 'test/e2e/differential-faults.test.ts',
  budgetS: 600,
  async prepare() {
    const modules = await faultModules();
    return { kos: [...specs().keys()].map((m) => join(modules, `${m}.ko`)), cases: faultCases(), data: undefined };
  },
};

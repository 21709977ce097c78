import { join } from 'node:path';
import { stockLayoutProbe } from '@klp-split/kbuild-gen';
import { discoverKernelTree, loadSymvers } from '@klp-split/kernel-facts';
import { commandOrders, loadModuleImage, readLayout, vmlinuxSymbolSource, type Entity, type SimSystem } from '@klp-split/runtime-sim';
import { exploredCases, REFUSED_CASES } from '../../differential/dependent-cases.js';
import { BASE, dependentModuleSources, PATCH, USER } from '../../differential/dependent-modules.js';
import { builtSources } from '../../helpers/fixtures.js';
import type { RealBatch } from '../batch.js';

/**
 * test/e2e/differential-dependent-targets.test.ts: two targets, one using the
 * other's export, and a classic livepatch fixing both, on Debian's 6.1: the
 * orders the model checker has no event for, and some it explores.
 */

/** How many of the model's complete command orders run on the real kernel too. */
export const EXPLORED_ON_REAL = 8;

export const ENTITIES: Entity[] = [
  { name: PATCH, kind: 'patch', loads: 1 },
  { name: BASE, kind: 'target', loads: 1 },
  { name: USER, kind: 'target', loads: 1 },
];

/** The three modules, built (a shared fixture): their .ko files, patch first. */
export async function dependentModules(): Promise<string[]> {
  const dir = await builtSources('dependent-modules', Object.fromEntries([...dependentModuleSources()].map(([name, text]) => [`${name}.c`, text])));
  return [PATCH, BASE, USER].map((m) => join(dir, `${m}.ko`));
}

/** The same modules in the upstream livepatch core, as `klp-split simulate --upstream` sees them, and the model's complete command orders. */
export async function dependentModel(kos: string[]): Promise<{ sys: SimSystem; orders: string[][] }> {
  const tree = discoverKernelTree();
  const vmlinuxExports = loadSymvers(tree.symvers).vmlinux;
  const sys: SimSystem = { layout: readLayout(await stockLayoutProbe(tree)), vmlinuxExports, vmlinuxSymbols: vmlinuxSymbolSource(vmlinuxExports, tree.kallsyms), images: kos.map((k) => loadModuleImage(k)) };
  return { sys, orders: commandOrders(sys, ENTITIES) };
}

export const dependentBatch: RealBatch = {
  name: 'differential-dependent-targets',
  kernel: 'stock',
  suite: 'test/e2e/differential-dependent-targets.test.ts',
  budgetS: 300,
  async prepare() {
    const kos = await dependentModules();
    const { orders } = await dependentModel(kos);
    return { kos, cases: [...REFUSED_CASES, ...exploredCases(orders, EXPLORED_ON_REAL)], data: undefined };
  },
};

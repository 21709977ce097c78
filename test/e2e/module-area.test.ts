import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stockLayoutProbe } from '@klp-split/kbuild-gen';
import { discoverKernelTree, loadSymvers } from '@klp-split/kernel-facts';
import { loadModuleImage, newKernel, readLayout, vmlinuxSymbolSource, type SimSystem } from '@klp-split/runtime-sim';
import { buildCorpusModules, removeDir, samples } from '../helpers/env.js';

describe('the module area', () => {
  let dir: string;
  let sys: SimSystem;

  beforeAll(async () => {
    const built = await buildCorpusModules([samples('livepatch-shadow-mod.c')]);
    dir = built.dir;
    const tree = discoverKernelTree();
    const vmlinux = loadSymvers(tree.symvers).vmlinux;
    sys = { layout: readLayout(await stockLayoutProbe(tree)), vmlinuxExports: vmlinux, vmlinuxSymbols: vmlinuxSymbolSource(vmlinux), images: [loadModuleImage(built.ko('livepatch-shadow-mod'))] };
  });
  afterAll(() => removeDir(dir));

  it('survives 500 load/unload cycles of a module, reusing its addresses', () => {
    const kernel = newKernel(sys);
    let first: bigint | undefined;
    for (let i = 0; i < 500; i++) {
      expect(kernel.modprobeCommand('livepatch_shadow_mod'), `load ${i + 1}`).toBe(0);
      const base = Math.min(...[...kernel.modules.get('livepatch_shadow_mod')!.sectionAddress.values()].map(Number));
      first ??= BigInt(base);
      expect(BigInt(base)).toBe(first);
      expect(kernel.rmmodCommand('livepatch_shadow_mod')).toBe(0);
    }
    expect(kernel.moduleAreaRanges()).toBe(0);
    expect(kernel.log.filter((l) => /overflow|exhausted/.test(l))).toEqual([]);
  });
});

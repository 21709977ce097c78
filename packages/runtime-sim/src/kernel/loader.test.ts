import { beforeAll, describe, expect, it } from 'vitest';
import { discoverKernelTree, stockLayoutProbe } from '@klp-split/kbuild-gen';
import { corpusModules } from '../../../../test/helpers/corpus.js';
import { loadModuleImage } from '../image/module-image.js';
import { readLayout } from '../klp/layout.js';
import { vmlinuxSymbolSource } from './object-symbols.js';
import { loadSymvers } from './symvers.js';
import { newKernel, type SimSystem } from './system.js';
import { ModuleSpace, MODULES_VADDR } from './module-space.js';

describe('the module area', () => {
  let sys: SimSystem;

  beforeAll(async () => {
    const built = await corpusModules();
    const vmlinux = loadSymvers(discoverKernelTree().symvers).vmlinux;
    sys = { layout: readLayout(await stockLayoutProbe()), vmlinuxExports: vmlinux, vmlinuxSymbols: vmlinuxSymbolSource(vmlinux), images: [loadModuleImage(built.ko('livepatch-shadow-mod'))] };
  });

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

  it('hands out the first free range that fits and reports exhaustion', () => {
    const space = new ModuleSpace(MODULES_VADDR, MODULES_VADDR + 0x10000n);
    const a = space.alloc('a', 0x3000n);
    const b = space.alloc('b', 0x3000n);
    expect(a).toBe(MODULES_VADDR);
    expect(b).toBe(MODULES_VADDR + 0x4000n);
    space.free('a');
    expect(space.alloc('c', 0x2000n)).toBe(MODULES_VADDR);
    expect(space.alloc('d', 0x7000n)).toBe(MODULES_VADDR + 0x8000n);
    expect(space.alloc('e', 0x1000n)).toBeUndefined();
  });
});

import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCorpusModules, removeDir, samples } from '../../../../test/helpers/env.js';
import { discoverKernelTree, parseSymvers } from '@klp-split/kernel-facts';
import { loadModuleImage, type ModuleImage } from '../image/module-image.js';
import { applyRelocations, type SymbolResolver } from './relocate.js';
import { symposProblem } from './object-symbols.js';

describe('relocations at a simulated load address', () => {
  let image: ModuleImage;
  let dir: string;
  let exports: Set<string>;
  const resolver = (kernelText: bigint): SymbolResolver => ({
    exported: (name) => (exports.has(name) ? kernelText + BigInt(name.length) * 64n : undefined),
    objectSymbol: () => ({ code: 'unused', message: 'unused' }),
  });

  beforeAll(async () => {
    const built = await buildCorpusModules([samples('livepatch-shadow-mod.c')]);
    dir = built.dir;
    image = loadModuleImage(built.ko('livepatch-shadow-mod'));
    const symvers = discoverKernelTree().symvers;
    exports = new Set([...parseSymvers(readFileSync(symvers, 'utf8'), symvers).values()].filter((e) => e.module === 'vmlinux').map((e) => e.name));
  });
  afterAll(() => removeDir(dir));

  it('applies every relocation of a real module in the module area without a finding', () => {
    const r = applyRelocations(image, 0xffffffffc0000000n, resolver(0xffffffff81000000n));
    expect(r.findings).toEqual([]);
    expect(r.applied).toBeGreaterThan(50);
    const total = image.elf.relocations.filter((rs) => r.sectionAddress.has(rs.target.index)).reduce((n, rs) => n + rs.relocs.filter((x) => x.type !== 0).length, 0);
    expect(r.applied).toBe(total);
  });

  it('detects 32-bit overflow when the module lies more than 2 GiB from the kernel, with the kernel\'s lines', () => {
    const r = applyRelocations(image, 0x700000000000n, resolver(0xffffffff81000000n));
    const overflow = r.findings.find((f) => f.code === 'relocation-overflow');
    expect(overflow?.lines?.[0]).toMatch(/^module: overflow in relocation type 11 val [0-9a-f]+$/);
    expect(overflow?.lines?.[1]).toBe("module: `livepatch_shadow_mod' likely not compiled with -mcmodel=kernel");
  });

  it('lets PC32/PLT32 values that do not fit pass truncated, as 6.1 does (its check is #if 0), and says so', () => {
    // Only the calls to vmlinux are out of reach: the module's own 32S references fit.
    const r = applyRelocations(image, 0xffffffffc0000000n, resolver(0x700000000000n));
    expect(r.findings).toEqual([]);
    expect(r.truncated.some((f) => f.code === 'relocation-truncated' && /R_X86_64_(PC32|PLT32) value 0x[0-9a-f]+ does not fit in 32 bits/.test(f.message))).toBe(true);
  });

  it('reports symbols nothing exports', () => {
    exports.delete('kfree');
    const r = applyRelocations(image, 0xffffffffc0000000n, resolver(0xffffffff81000000n));
    exports.add('kfree');
    expect(r.findings).toContainEqual({ code: 'unresolved-symbol', message: "'kfree' is neither exported by vmlinux nor by a loaded module", errno: 2 });
  });

  it("follows klp_find_object_symbol's sympos rules", () => {
    expect(symposProblem('f', 'm', 0, 0)?.code).toBe('old-name-not-found');
    expect(symposProblem('f', 'm', 2, 0)?.message).toBe("unresolvable ambiguity for symbol 'f' in object 'm'");
    expect(symposProblem('f', 'm', 2, 3)?.message).toBe("symbol position 3 for symbol 'f' in object 'm' not found");
    expect(symposProblem('f', 'm', 2, 2)).toBeUndefined();
    expect(symposProblem('f', 'm', 1, 0)).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import { ModuleSpace, MODULES_VADDR } from './module-space.js';

describe('the module area', () => {
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

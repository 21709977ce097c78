import { describe, expect, it } from 'vitest';
import { KernelConfig } from '../model/conditions.js';
import { readMakefile } from './makefile.js';

describe('kbuild Makefiles', () => {
  const config = new KernelConfig('.config', 'CONFIG_ZRAM=m\nCONFIG_MMU=y\n');

  it('evaluates obj-$(CONFIG_X), := overrides, continuations and composites', () => {
    const mk = readMakefile(`proc-y := nommu.o
proc-$(CONFIG_MMU) := task_mmu.o
proc-y += a.o \\
	b.o
obj-$(CONFIG_ZRAM) += zram.o
obj-$(CONFIG_OFF) += off.o
zram-y := zcomp.o zram_drv.o
`, config);
    expect(mk.values.get('proc-y')).toEqual(['task_mmu.o', 'a.o', 'b.o']);
    expect(mk.values.get('obj-m')).toEqual(['zram.o']);
    expect(mk.values.get('obj-')).toEqual(['off.o']);
    expect(mk.values.get('zram-y')).toEqual(['zcomp.o', 'zram_drv.o']);
  });

  it('knows which words a condition it cannot evaluate assigned', () => {
    const mk = readMakefile(`ifeq ($(shell uname),Linux)
obj-y += maybe.o
endif
ifdef CONFIG_MMU
obj-y += sure.o
else
obj-y += never.o
endif
`, config);
    expect(mk.values.get('obj-y')).toEqual(['maybe.o', 'sure.o']);
    expect([...mk.uncertain]).toEqual(['obj-y maybe.o']);
  });
});

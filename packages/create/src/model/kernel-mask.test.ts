import { describe, expect, it } from 'vitest';
import { readKernelFile } from './kernel-file.js';
import { maskKernelIdioms } from './kernel-mask.js';
import { KernelConfig } from './conditions.js';

describe('kernel idioms before parsing', () => {
  it('keeps every offset: the masked text has the length and lines of the original', () => {
    const src = 'SYSCALL_DEFINE3(setpriority, int, which, int, who, int, niceval)\n{\n\tp = container_of(x, struct task_struct, rcu);\n\tlist_for_each_entry(p, &l, node) {}\n}\n';
    const masked = maskKernelIdioms(src);
    expect(masked.length).toBe(src.length);
    expect(masked.split('\n').length).toBe(src.split('\n').length);
    expect(masked).toContain('struct_task_struct');
  });

  it('reads SYSCALL_DEFINEn as a function named sys_<name>, and conditions against the .config', () => {
    const config = new KernelConfig('.config', 'CONFIG_A=y\nCONFIG_M=m\n');
    const f = readKernelFile('k.c', `#ifdef CONFIG_A
static int a(void) { return 1; }
#else
static int a(void) { return 0; }
#endif
#if IS_ENABLED(CONFIG_M) && !defined(CONFIG_B)
static DEFINE_MUTEX(lock);
#endif
SYSCALL_DEFINE1(newuname, struct new_utsname __user *, name)
{
	return 0;
}
`, config);
    const as = f.defs.filter((d) => d.name === 'a');
    expect(as.map((d) => d.active)).toEqual([true, false]);
    expect(f.byName.get('lock')![0]).toMatchObject({ kind: 'variable', definedBy: 'DEFINE_MUTEX', active: true });
    expect(f.byName.get('sys_newuname')![0]).toMatchObject({ kind: 'function', syscall: { name: 'newuname', args: 1 } });
  });
});

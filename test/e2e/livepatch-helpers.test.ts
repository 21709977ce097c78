import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { klpSplit, removeDir, ROOT, tempDir } from '../helpers/env.js';

/**
 * Upstream's linux/livepatch_helpers.h (Linux 6.19) in a hand-written
 * livepatch on Debian's 6.1 headers: the build's overlay provides it. The
 * replacement syscall defines the entry points livepatch replaces, the
 * static call goes through its key (a livepatch relocation: the key is not
 * exported), and the callback registration is discarded by the linker.
 */
const dir = tempDir('livepatch-helpers');
afterAll(() => removeDir(dir));

describe('livepatch_helpers.h on 6.1 headers, in a hand-written livepatch', () => {
  it('builds, with the syscall entry points, the static call key as a livepatch relocation, and no callback pointer left', async () => {
    copyFileSync(join(ROOT, 'test/fixtures/create-helpers/klp-helpers.c'), join(dir, 'klp-helpers.c'));
    const b = await klpSplit(['build', dir]);
    expect(b.code, b.stdout + b.stderr).toBe(0);
    expect(b.stdout).toContain('__SCK__cond_resched -> .klp.sym.vmlinux.__SCK__cond_resched,0');
    const ko = join(dir, 'klp-helpers.ko');
    const nm = String((await execa('nm', [ko])).stdout);
    expect(nm).toMatch(/ T __x64_sys_newuname$/m);
    expect(nm).toMatch(/ T __ia32_sys_newuname$/m);
    expect(nm).toMatch(/ t __klp_do_sys_newuname$/m);
    expect(nm).not.toMatch(/__klp_post_patch_callback/);
    expect(readFileSync(ko).includes('.discard')).toBe(false);
  });
});

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CREATE_FIXTURES } from '../helpers/create-fixtures.js';
import { klpSplit, removeDir, tempDir } from '../helpers/env.js';

/**
 * What `klp-split create` refuses, as kpatch-build and klp-build refuse it:
 * each exits 1 with its diagnostic at the fix's line in the kernel source
 * (file:line:col: error: ... [code]) and the patch line in the message, and
 * writes nothing. Bad patches are named by file and hunk.
 */
const work = tempDir('create-refusals');
afterAll(() => removeDir(work));

async function create(patch: string, out = join(work, 'out')) {
  return klpSplit(['create', patch, '--out', out]);
}

describe('create refuses what a livepatch cannot do', () => {
  it.each([
    ['refuse-init', 'fs/proc/cmdline.c:16:2: error: changed init code \'proc_cmdline_init\'', 'create-init-changed', 'fix.patch:20'],
    ['refuse-struct', "fs/binfmt_misc.c:60:2: error: changed struct layout: 'Node' changes", 'create-struct-changed', 'fix.patch:19'],
    ['refuse-initial-value', "fs/binfmt_misc.c:44:1: error: changed data: the initial value (or type) of 'enabled' changes", 'create-data-changed', 'fix.patch:20'],
    ['refuse-assembly', 'arch/x86/lib/memmove_64.S:28:1: error: changed assembly file', 'create-assembly', 'fix.patch:19'],
    ['refuse-header-inline', "fs/proc/internal.h:144:2: error: changed static inline 'proc_pid' of fs/proc/internal.h is compiled into 4 files of 1 object: fs/proc/array.c (vmlinux), fs/proc/base.c (vmlinux)", 'create-header-inline', 'fix.patch:20'],
  ])('%s: exit 1, the named diagnostic at the line', async (name, where, code, patchLine) => {
    const out = join(work, name);
    const r = await create(join(CREATE_FIXTURES, name, 'fix.patch'), out);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    const line = r.stderr.split('\n').find((l) => l.includes(`[${code}]`));
    expect(line).toBeDefined();
    expect(line!.startsWith(where)).toBe(true);
    expect(line).toContain(patchLine);
    expect(r.stdout).toContain('not created');
    expect(() => readFileSync(join(out, 'klp-create.json'))).toThrow();
  });

  it('a hunk that does not apply is named by file, hunk number and header; nothing is written', async () => {
    const patch = join(work, 'stale.patch');
    writeFileSync(patch, readFileSync(join(CREATE_FIXTURES, 'three-objects/fix.patch'), 'utf8').replace('\tchar *s = enabled ? "enabled\\n"', '\tchar *s = enabled ? "on\\n"'));
    const r = await create(patch);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/stale\.patch:\d+:1: error: hunk #1 of fs\/binfmt_misc\.c \(@@ -\d+,\d+ \+\d+,\d+ @@.*\) does not apply: its old lines .* \[patch-hunk-failed\]/);
  });

  it('a fix that only touches a comment has nothing to patch', async () => {
    const patch = join(work, 'comment.patch');
    writeFileSync(
      patch,
      [
        '--- a/fs/proc/cmdline.c',
        '+++ b/fs/proc/cmdline.c',
        '@@ -7,6 +7,7 @@',
        ' static int cmdline_proc_show(struct seq_file *m, void *v)',
        ' {',
        ' \tseq_puts(m, saved_command_line);',
        '+\t/* The command line as the boot loader gave it. */',
        " \tseq_putc(m, '\\n');",
        ' \treturn 0;',
        ' }',
        '',
      ].join('\n'),
    );
    const r = await create(patch);
    expect(r.stderr).toMatch(/note: the fix changes only comments or layout in fs\/proc\/cmdline\.c/);
    expect(r.stderr).toMatch(/\[create-nothing-to-patch\]/);
    expect(r.code).toBe(1);
  });

  it('a source tree of another kernel series than the kernel is refused (exit 2)', async () => {
    const src = join(work, 'linux-6.12');
    mkdirSync(src, { recursive: true });
    writeFileSync(join(src, 'Makefile'), 'VERSION = 6\nPATCHLEVEL = 12\nSUBLEVEL = 0\n');
    writeFileSync(join(src, 'Kbuild'), '');
    const r = await klpSplit(['create', join(CREATE_FIXTURES, 'cmdline-string/fix.patch'), '--out', join(work, 'out'), '--src', src]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/the source tree .*linux-6\.12 is Linux 6\.12, but kernel 6\.1\.\S+ is 6\.1: .*\[create-source-mismatch\]/);
  });

  it('a patch naming a file outside the source tree is refused before anything is read (exit 2)', async () => {
    const patch = join(work, 'escape.patch');
    writeFileSync(patch, '--- a/../../../etc/passwd\n+++ b/../../../etc/passwd\n@@ -1,1 +1,1 @@\n-root\n+toor\n');
    const r = await create(patch);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/escape\.patch:1:1: error: no -p level .* \[patch-paths-unknown\]/);
  });
});

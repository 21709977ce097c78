import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyRelocEdit, type RelocEdit } from '../../../../test/differential/reloc-edit.js';
import { klpSplit, removeDir, tempDir } from '../../../../test/helpers/env.js';
import { readElf } from '@klp-split/kernel-facts';
import { klpRelocRuleProblems } from './klp-reloc-rules.js';

/**
 * The init and static-key rules on a real module that `klp-split build`
 * rewrote: clean as written, and with one `.klp.rela` section's sh_info
 * pointed at an init section or at `__jump_table` (what a broken tool would
 * have written; the writer refuses both).
 */
const SOURCE = `// SPDX-License-Identifier: GPL-2.0
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/jump_label.h>
#include <linux/seq_file.h>

extern char klprr_work[] KLP_RELOC_SYMBOL(klprr_tgt, klprr_tgt, klprr_tgt_work);
extern int max_threads;
static DEFINE_STATIC_KEY_FALSE(klprr_key);

static int livepatch_cmdline_proc_show(struct seq_file *m, void *v)
{
	seq_printf(m, "%d\\n", max_threads);
	return 0;
}

static noinline int livepatch_target_function(int x)
{
	if (static_branch_unlikely(&klprr_key))
		x++;
	pr_info("%px\\n", klprr_work);
	return x + 100;
}

static struct klp_func funcs[] = { { .old_name = "cmdline_proc_show", .new_func = livepatch_cmdline_proc_show }, { } };
static struct klp_func mod_funcs[] = { { .old_name = "klprr_tgt_work", .new_func = livepatch_target_function }, { } };
static struct klp_object objs[] = { { .funcs = funcs }, { .name = "klprr_tgt", .funcs = mod_funcs }, { } };
static struct klp_patch patch = { .mod = THIS_MODULE, .objs = objs };

static int __init livepatch_init(void)
{
	return klp_enable_patch(&patch);
}

static void livepatch_exit(void)
{
}

module_init(livepatch_init);
module_exit(livepatch_exit);
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
`;

describe('livepatch relocation rules on a built module', () => {
  let dir: string;
  let ko: string;
  let moduleSection: string;
  const problems = (file: string) => klpRelocRuleProblems(readElf(readFileSync(file), file));
  const edited = (name: string, edit: RelocEdit): string => {
    const copy = join(dir, `${name}.ko`);
    copyFileSync(ko, copy);
    applyRelocEdit(copy, edit);
    return copy;
  };

  beforeAll(async () => {
    dir = tempDir('klp-reloc-rules');
    writeFileSync(join(dir, 'klprr_lp.c'), SOURCE);
    const b = await klpSplit(['build', dir]);
    expect(b.code, b.stderr).toBe(0);
    ko = join(dir, 'klprr_lp.ko');
    const elf = readElf(readFileSync(ko), ko);
    moduleSection = elf.sections.find((s) => s.name.startsWith('.klp.rela.klprr_tgt.'))!.name;
    // The module has what the edits need.
    expect(elf.sections.map((s) => s.name)).toEqual(expect.arrayContaining(['.klp.rela.vmlinux.text', '.init.text', '__jump_table']));
  }, 300_000);
  afterAll(() => removeDir(dir));

  it('finds nothing in the module as the writer wrote it', () => {
    expect(problems(ko)).toEqual([]);
  });

  it("a module object's relocations in an init section", () => {
    const p = problems(edited('init', { kind: 'section-info', section: moduleSection, info: '.init.text' }));
    expect(p.map((x) => [x.code, x.symbol])).toEqual([['klp-reloc-in-init', 'klprr_tgt_work']]);
    expect(p[0]!.message).toContain("in init section '.init.text'");
  });

  it("vmlinux's relocations in an init section too", () => {
    const p = problems(edited('vminit', { kind: 'section-info', section: '.klp.rela.vmlinux.text', info: '.init.text' }));
    expect(p.map((x) => [x.code, x.symbol])).toEqual([['klp-reloc-in-init', 'max_threads']]);
  });

  it("a module symbol reached from __jump_table (the static-key hazard)", () => {
    const p = problems(edited('jump', { kind: 'section-info', section: moduleSection, info: '__jump_table' }));
    expect(p.map((x) => [x.code, x.symbol])).toEqual([['klp-reloc-static-key', 'klprr_tgt_work']]);
    expect(p[0]!.message).toContain("of module 'klprr_tgt' from '__jump_table'");
  });

  it('a vmlinux symbol from __jump_table is allowed (vmlinux is set up long before)', () => {
    expect(problems(edited('vmjump', { kind: 'section-info', section: '.klp.rela.vmlinux.text', info: '__jump_table' }))).toEqual([]);
  });
});

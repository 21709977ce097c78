import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from '@klp-split/core';
import { splitSource } from './split.js';

/**
 * Issue 20: inputs that split "successfully" into something wrong, or were
 * reported with the wrong words: each is now an error at its line.
 */
const source = (objects: string): string => `// SPDX-License-Identifier: GPL-2.0
#include <linux/module.h>
#include <linux/livepatch.h>

static int new_foo(void)
{
	return 0;
}

static struct klp_func funcs[] = {
	{
		.old_name = "foo",
		.new_func = new_foo,
	}, { }
};

static struct klp_object objs[] = {
${objects}
	{ }
};

static struct klp_patch patch = {
	.mod = THIS_MODULE,
	.objs = objs,
};

static int fix_init(void)
{
	return klp_enable_patch(&patch);
}

static void fix_exit(void)
{
}

module_init(fix_init);
module_exit(fix_exit);
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
`;

describe('split refuses at the line what it used to split wrong (issue 20)', () => {
  it('a corrupted .funcs designator: an error at it, not a module without functions and exit 0', () => {
    const r = splitSource('fix.c', source('\t{\n\t\t.name = "mod_a",\n\t\t.fucns = funcs,\n\t},'));
    expect(r.kind).toBe('invalid');
    expect(r.files.size).toBe(0);
    expect(r.diagnostics.map(formatDiagnostic)).toEqual(["fix.c:20:3: error: '.fucns' is not a member of struct klp_object (name, funcs, callbacks) [unsupported-initializer]"]);
  });

  it("a klp_object named \"vmlinux\": an error at the object, not a manifest with two vmlinux parts ('cannot read fix.c')", () => {
    const r = splitSource('fix.c', source('\t{\n\t\t.name = "vmlinux",\n\t\t.funcs = funcs,\n\t},'));
    expect(r.kind).toBe('invalid');
    expect(r.diagnostics.map((d) => [d.code, d.line])).toEqual([['object-named-vmlinux', 18]]);
    expect(r.diagnostics[0]!.message).toContain("leave .name out (NULL) for vmlinux's object");
  });

  it('the kernel-internal members of struct klp_object are still accepted as designators', () => {
    const r = splitSource('fix.c', source('\t{\n\t\t.name = "mod_a",\n\t\t.funcs = funcs,\n\t\t.patched = false,\n\t},'));
    expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(r.kind).toBe('split');
  });
});

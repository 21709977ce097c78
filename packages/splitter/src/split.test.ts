import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from '@klp-split/core';
import { splitSource } from './split.js';

const HEAD = '// SPDX-License-Identifier: GPL-2.0\n#include <linux/module.h>\n#include <linux/livepatch.h>\n\n';
const TAIL = `
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

function livepatch(objects: string, extra = ''): string {
  return `${HEAD}${extra}
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
${TAIL}`;
}

const codes = (src: string, name = 'fix.c') => splitSource(name, src).diagnostics.map((d) => d.code);

describe('splitSource diagnostics', () => {
  it('reports C syntax errors with their location and writes nothing', () => {
    const r = splitSource('fix.c', `${HEAD}static int broken(void {\n\treturn 0;\n}\n`);
    expect(r.kind).toBe('invalid');
    expect(r.files.size).toBe(0);
    expect(formatDiagnostic(r.diagnostics[0]!)).toMatch(/^fix\.c:5:\d+: error: .* \[syntax-error\]$/);
  });

  it('rejects an object name that is not a module name', () => {
    expect(codes(livepatch('\t{ .name = "bad name!", .funcs = funcs, },'))).toEqual(['invalid-module-name']);
  });

  it('rejects an object name that would escape the output directory', () => {
    expect(codes(livepatch('\t{ .name = "../../etc", .funcs = funcs, },'))).toEqual(['path-escape']);
  });

  it('rejects <patch>__<object> longer than 55 characters', () => {
    const r = splitSource('fix.c', livepatch(`\t{ .name = "${'m'.repeat(52)}", .funcs = funcs, },`));
    expect(r.diagnostics.map((d) => d.code)).toEqual(['module-name-too-long']);
    expect(r.diagnostics[0]!.message).toContain('57 characters');
  });

  it('rejects the same object twice', () => {
    expect(codes(livepatch('\t{ .name = "mod_a", .funcs = funcs, },\n\t{ .name = "mod_a", .funcs = funcs, },'))).toEqual(['duplicate-object']);
  });

  it('rejects a klp_func whose new_func is not defined in the file', () => {
    const src = livepatch('\t{ .name = "mod_a", .funcs = funcs, },').replace('.new_func = new_foo,', '.new_func = elsewhere_foo,');
    const r = splitSource('fix.c', src);
    expect(r.diagnostics.map((d) => d.code)).toEqual(['new-func-undefined']);
    expect(r.files.size).toBe(0);
  });

  it('rejects a livepatch whose object array lives in another file', () => {
    const src = `${HEAD}extern struct klp_object objs[];\n\nstatic struct klp_patch patch = {\n\t.mod = THIS_MODULE,\n\t.objs = objs,\n};\n${TAIL}`;
    expect(codes(src)).toEqual(['livepatch-spans-files']);
  });

  it('reports a file without klp_patch as not a livepatch', () => {
    const r = splitSource('mod.c', `${HEAD}static int x;\n`);
    expect(r.kind).toBe('not-livepatch');
    expect(r.files.size).toBe(0);
  });

  it('recognizes an already split source and changes nothing', () => {
    const r = splitSource('fix__mod_a.c', `${HEAD}static struct klp_object obj = { .name = "mod_a" };\nstatic int i(void)\n{\n\treturn klp_add_object(&obj);\n}\n`);
    expect(r.kind).toBe('already-split');
    expect(r.files.size).toBe(0);
  });

  it('converts a vmlinux-only livepatch with an empty obj_names and no per-object file', () => {
    const r = splitSource('fix.c', livepatch('\t{ .name = NULL, .funcs = funcs, },'));
    expect(r.kind).toBe('split');
    expect([...r.files.keys()]).toEqual(['fix.c', 'klp-split.json']);
    expect(r.files.get('fix.c')).toContain('static char *obj_names[] = {\n\tNULL\n};');
  });

  it('is deterministic', () => {
    const src = livepatch('\t{ .name = "mod_a", .funcs = funcs, },');
    expect([...splitSource('fix.c', src).files]).toEqual([...splitSource('fix.c', src).files]);
  });
});

describe('split refuses at the line what it used to split wrong (issue 20)', () => {
  const lineOf = (src: string, text: string): number => src.split('\n').findIndex((l) => l.includes(text)) + 1;

  it('a corrupted .funcs designator: an error at it, not a module without functions and exit 0', () => {
    const src = livepatch('\t{\n\t\t.name = "mod_a",\n\t\t.fucns = funcs,\n\t},');
    const r = splitSource('fix.c', src);
    expect(r.kind).toBe('invalid');
    expect(r.files.size).toBe(0);
    expect(r.diagnostics.map(formatDiagnostic)).toEqual([`fix.c:${lineOf(src, '.fucns')}:3: error: '.fucns' is not a member of struct klp_object (name, funcs, callbacks) [unsupported-initializer]`]);
  });

  it("a klp_object named \"vmlinux\": an error at the object, not a manifest with two vmlinux parts ('cannot read fix.c')", () => {
    const src = livepatch('\t{\n\t\t.name = "vmlinux",\n\t\t.funcs = funcs,\n\t},');
    const r = splitSource('fix.c', src);
    expect(r.kind).toBe('invalid');
    expect(r.diagnostics.map((d) => [d.code, d.line])).toEqual([['object-named-vmlinux', lineOf(src, '.name = "vmlinux"') - 1]]);
    expect(r.diagnostics[0]!.message).toContain("leave .name out (NULL) for vmlinux's object");
  });

  it('the kernel-internal members of struct klp_object are still accepted as designators', () => {
    const r = splitSource('fix.c', livepatch('\t{\n\t\t.name = "mod_a",\n\t\t.funcs = funcs,\n\t\t.patched = false,\n\t},'));
    expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(r.kind).toBe('split');
  });
});

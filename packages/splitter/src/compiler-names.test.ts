import { describe, expect, it } from 'vitest';
import { conditionAt, evaluatedFuncArray } from './compiler-names.js';
import { maskInitializerPreprocessor } from './initializer-mask.js';
import { parseC } from './parse.js';

const ARRAY = `static struct klp_func funcs[] = {
#ifdef CONFIG_A
	{ .old_name = "a", .new_func = fa, },
#else
	{ .old_name = __stringify(P) "b", .new_func = fb, },
#endif
	{ }
};
int f(void)
{
#ifdef CONFIG_A
	return 1;
#endif
	return 0;
}
`;

describe('preprocessor shapes in initializers', () => {
  it('masks directive lines inside initializers only, keeping offsets', () => {
    const masked = maskInitializerPreprocessor(ARRAY);
    expect(masked.length).toBe(ARRAY.length);
    expect(masked).not.toContain('#ifdef CONFIG_A\n\t{');
    expect(masked).toContain('#ifdef CONFIG_A\n\treturn 1;');
    expect(masked).toContain('__stringify(P)+"b"');
    expect(parseC(ARRAY).rootNode.hasError).toBe(false);
  });

  it('gives the #if expression around an element', () => {
    expect(conditionAt(ARRAY, 0, ARRAY.indexOf('"a"'))).toBe('defined(CONFIG_A)');
    expect(conditionAt(ARRAY, 0, ARRAY.indexOf('__stringify'))).toBe('!defined(CONFIG_A)');
    expect(conditionAt(ARRAY, 0, ARRAY.indexOf('{ }'))).toBeUndefined();
  });

  it('reads a klp_func array from preprocessed text', () => {
    const pre = 'int x;\nstatic struct klp_func funcs[] = {\n { .old_name = "__x64_" "sys_getpid", .new_func = fb, .old_sympos = 2 },\n { }\n};\n';
    expect(evaluatedFuncArray(pre, 'funcs')).toEqual([{ oldName: '__x64_sys_getpid', newFunc: 'fb', sympos: 2 }]);
    expect(evaluatedFuncArray(pre, 'other')).toBeUndefined();
  });
});

describe('conditions the split cannot keep', () => {
  it('needs the compiler for #ifdef inside the klp_object array, and refuses one inside the klp_patch', async () => {
    const { splitSource } = await import('./split.js');
    const src = `// SPDX-License-Identifier: GPL-2.0
#include <linux/module.h>
#include <linux/livepatch.h>

static int new_a(int v)
{
	return v;
}

static struct klp_func funcs[] = {
	{ .old_name = "a", .new_func = new_a, },
	{ }
};

static struct klp_object objs[] = {
#ifdef CONFIG_X
	{ .name = "mod_x", .funcs = funcs, },
#endif
	{ }
};

static struct klp_patch patch = {
	.mod = THIS_MODULE,
	.objs = objs,
};
`;
    const r = splitSource('fix.c', src);
    expect(r.kind).toBe('invalid');
    expect(r.diagnostics.map((d) => `${d.line}:${d.code}`)).toEqual(['17:needs-compiler']);
    expect(r.diagnostics[0]!.message).toContain("an entry is under 'defined(CONFIG_X)'");
    // The patch's initializer is rewritten field by field: a condition there cannot be kept.
    const inPatch = splitSource('fix.c', src.replace('#ifdef CONFIG_X\n', '').replace('#endif\n', '').replace('\t.objs = objs,\n', '#ifdef CONFIG_Y\n\t.objs = objs,\n#endif\n'));
    expect(inPatch.kind).toBe('invalid');
    expect(inPatch.diagnostics.map((d) => `${d.line}:${d.code}`)).toEqual(['22:conditional-in-initializer']);
  });
});

import { describe, expect, it } from 'vitest';
import { parseC } from './parse.js';
import { moduleRelocs, relocAnnotations } from './reloc-annotations.js';
import { splitSource } from './split.js';

/** A livepatch fixing `mod_a` and `mod_b`, with `top` before the replacements and `a`/`b` used by each. */
function livepatch(top: string, a = 'return x;', b = 'return -x;', tail = 'MODULE_INFO(livepatch, "Y");\n'): string {
  return `// SPDX-License-Identifier: GPL-2.0
#include <linux/module.h>
#include <linux/livepatch.h>

${top}

static int new_a(int x)
{
	${a}
}

static int new_b(int x)
{
	${b}
}

static struct klp_func a_funcs[] = {
	{ .old_name = "a", .new_func = new_a, }, { }
};

static struct klp_func b_funcs[] = {
	{ .old_name = "b", .new_func = new_b, }, { }
};

static struct klp_object objs[] = {
	{ .name = "mod_a", .funcs = a_funcs, },
	{ .name = "mod_b", .funcs = b_funcs, },
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
${tail}`;
}

function split(source: string) {
  const r = splitSource('fix.c', source);
  expect(r.kind, r.diagnostics.map((d) => d.message).join('\n')).toBe('split');
  for (const [name, text] of r.files) if (/\.[ch]$/.test(name)) expect(parseC(text).rootNode.hasError, `${name}:\n${text}`).toBe(false);
  return { r, a: r.files.get('fix__mod_a.c')!, b: r.files.get('fix__mod_b.c')!, main: r.files.get('fix.c')!, header: r.files.get('fix.h') ?? '' };
}

const count = (text: string, what: string): number => text.split(what).length - 1;
const lineOf = (text: string, what: string): number => text.slice(0, text.indexOf(what)).split('\n').length;

describe('the text of a split', () => {
  it('writes a comment before an #if once, before the block, with its first item, and closes the block', () => {
    const { a, b } = split(
      livepatch('/* The helpers differ by version. */\n#if LINUX_VERSION_CODE >= KERNEL_VERSION(5, 10, 0)\nstatic int help_a(int x) { return x + 1; }\nstatic int help_b(int x) { return x + 2; }\n#else\nstatic int help_a(int x) { return x; }\nstatic int help_b(int x) { return x; }\n#endif', 'return help_a(x);', 'return help_b(x);'),
    );
    expect(a).toContain('/* The helpers differ by version. */\n#if LINUX_VERSION_CODE >= KERNEL_VERSION(5, 10, 0)\nstatic int help_a');
    expect(count(a, '#if LINUX_VERSION_CODE')).toBe(1);
    expect(count(a, '#endif')).toBe(1);
    // mod_b's part has the block without the comment, which went with the block's first item.
    expect(b).not.toContain('The helpers differ');
    expect(count(b, '#if LINUX_VERSION_CODE')).toBe(1);
    expect(b).toContain('#else\nstatic int help_b(int x) { return x; }\n#endif');
  });

  it("keeps the ';' of struct definitions in both branches of a conditional", () => {
    const { header } = split(livepatch('#ifdef CONFIG_64BIT\nstruct s { long v; };\n#else\nstruct s { int v; };\n#endif', 'struct s v = { x }; return v.v;', 'struct s v = { -x }; return v.v;'));
    expect(header).toContain('#ifdef CONFIG_64BIT\nstruct s { long v; };\n#else\nstruct s { int v; };\n#endif');
  });

  it('writes an item of an #elif branch after the directives of the branches before it', () => {
    const { a, b } = split(
      livepatch('#if defined(CONFIG_A) /* a */\nstatic int help_a(int x) { return 1; }\n#elif defined(CONFIG_B)\nstatic int help_b(int x) { return 2; }\n#else /* neither */\nstatic int help_b(int x) { return 3; }\n#endif /* CONFIG_A */', 'return x;', 'return help_b(x);'),
    );
    expect(b).toContain('#if defined(CONFIG_A) /* a */\n#elif defined(CONFIG_B)\nstatic int help_b(int x) { return 2; }\n#else /* neither */\nstatic int help_b(int x) { return 3; }\n#endif /* CONFIG_A */');
    expect(count(b, '/* CONFIG_A */')).toBe(1);
    expect(a).not.toContain('#elif');
  });

  it('closes a nested block before a comment that ends the outer branch, and does not repeat the nested block', () => {
    const { b } = split(
      livepatch('#ifdef CONFIG_X\nstatic int help_a(int x) { return 1; }\n#ifdef CONFIG_Y\nstatic int help_b(int x) { return 2; }\n#endif\n/* end of X */\n#else\nstatic int help_a(int x) { return 0; }\nstatic int help_b(int x) { return 0; }\n#endif', 'return help_a(x);', 'return help_b(x);'),
    );
    expect(count(b, '#ifdef CONFIG_Y')).toBe(1);
    expect(count(b, '#endif')).toBe(2);
  });

  it('keeps the annotations before and after a declaration with it, byte for byte', () => {
    const top = '__printf(1, 2) static void log_a(const char *fmt, ...) { }\nstatic int count_b __section(".data.fix") __aligned(8) = 1;\nstatic int seen_a __read_mostly __maybe_unused;';
    const { a, b } = split(livepatch(top, 'log_a("%d", x); return seen_a;', 'return count_b;'));
    expect(a).toContain('__printf(1, 2) static void log_a(const char *fmt, ...) { }');
    expect(a).toContain('static int seen_a __read_mostly __maybe_unused;');
    expect(b).toContain('static int count_b __section(".data.fix") __aligned(8) = 1;');
  });

  it('parses relocation annotations as declarations and reads their arguments', () => {
    const top = 'extern int max_threads KLP_RELOC_SYMBOL(vmlinux, vmlinux, max_threads);\nextern char scale\n\tKLP_RELOC_SYMBOL_POS(mod_b, mod_b, scale, 2);';
    const source = livepatch(top, 'return x + max_threads;', 'return x * scale;');
    const { a, b } = split(source);
    expect(a).toContain('extern int max_threads KLP_RELOC_SYMBOL(vmlinux, vmlinux, max_threads);');
    expect(b).toContain('extern char scale\n\tKLP_RELOC_SYMBOL_POS(mod_b, mod_b, scale, 2);');
    const found = relocAnnotations(source);
    expect(found.map(({ form, declared, lpObject, symObject, symbol, sympos, line, col }) => ({ form, declared, lpObject, symObject, symbol, sympos, line, col }))).toEqual([
      { form: 'KLP_RELOC_SYMBOL', declared: 'max_threads', lpObject: 'vmlinux', symObject: 'vmlinux', symbol: 'max_threads', sympos: 0, line: 5, col: 24 },
      { form: 'KLP_RELOC_SYMBOL_POS', declared: 'scale', lpObject: 'mod_b', symObject: 'mod_b', symbol: 'scale', sympos: 2, line: 7, col: 2 },
    ]);
    expect(source.slice(found[1]!.start, found[1]!.end)).toBe('KLP_RELOC_SYMBOL_POS(mod_b, mod_b, scale, 2)');
  });

  it('reads a KLP_MODULE_RELOC list with its KLP_SYMPOS entries, leaving comments and strings alone', () => {
    const text = 'KLP_MODULE_RELOC(mod-b) relocs[] = {\n\t/* KLP_SYMPOS(not_this, 9) */\n\tKLP_SYMPOS(scale, 2),\n\tKLP_SYMPOS(name, 0UL),\n\tKLP_SYMPOS(odd, N),\n};\nconst char *s = "KLP_MODULE_RELOC(x)";';
    expect(moduleRelocs(text)).toEqual([{ symObject: 'mod-b', entries: [{ symbol: 'scale', sympos: 2 }, { symbol: 'name', sympos: 0 }, { symbol: 'odd' }] }]);
  });

  it('moves an #undef with the #define it precedes', () => {
    const { a, b } = split(livepatch('#undef FIX_LIMIT\n#define FIX_LIMIT 3', 'return x > FIX_LIMIT;', 'return x;'));
    expect(a).toContain('#undef FIX_LIMIT\n#define FIX_LIMIT 3');
    expect(b).not.toContain('FIX_LIMIT');
  });

  it('keeps the file header in every part when it sits right above the first item', () => {
    const source = `/*\n * fix.c - the file's description\n */\n#define FIX_TAG "fix"\n${livepatch('', 'return x;', 'return -x;').split('\n').slice(1).join('\n')}`;
    const { a, b, main } = split(source);
    for (const text of [a, b, main]) expect(text.startsWith("/*\n * fix.c - the file's description\n */\n")).toBe(true);
  });

  it('includes the shared header where its first item stood among the includes', () => {
    const source = livepatch('#define SHARED 1\n#include <linux/slab.h>', 'return SHARED;', 'return -SHARED;');
    const { a } = split(source);
    expect(a.indexOf('#include "fix.h"')).toBeLessThan(a.indexOf('#include <linux/slab.h>'));
    expect(a.indexOf('#include <linux/livepatch.h>')).toBeLessThan(a.indexOf('#include "fix.h"'));
  });

  it('gives a part with no include the shared header first', () => {
    const r = splitSource('fix.c', livepatch('#define SHARED 1', 'return SHARED;', 'return -SHARED;').replace(/#include <[^>]+>\n/g, ''));
    expect(r.files.get('fix__mod_a.c')).toMatch(/^\/\/ SPDX-License-Identifier: GPL-2.0\n+#include "fix.h"/);
  });

  it('warns about a missing MODULE_INFO(livepatch, "Y") and writes it into every part', () => {
    const source = livepatch('', 'return x;', 'return -x;', '');
    const { r, a, main } = split(source);
    expect(r.diagnostics.map((d) => [d.severity, d.code, d.line])).toEqual([['warning', 'missing-livepatch-modinfo', lineOf(source, 'MODULE_LICENSE')]]);
    expect(main).toContain('MODULE_LICENSE("GPL");\nMODULE_INFO(livepatch, "Y");');
    expect(a).toContain('MODULE_INFO(livepatch, "Y");');
  });

  it('says at its line that a klp_patch filled in at run time cannot be read', () => {
    const source = livepatch('', 'return x;', 'return -x;')
      .replace('static struct klp_patch patch = {\n\t.mod = THIS_MODULE,\n\t.objs = objs,\n};', 'static struct klp_patch patch;')
      .replace('\treturn klp_enable_patch(&patch);', '\tpatch.mod = THIS_MODULE;\n\tpatch.objs = objs;\n\treturn klp_enable_patch(&patch);');
    const r = splitSource('fix.c', source);
    expect(r.kind).toBe('invalid');
    expect(r.diagnostics.map((d) => [d.code, d.line])).toEqual([['patch-built-at-run-time', lineOf(source, 'static struct klp_patch patch;')]]);
    expect(r.diagnostics[0]!.message).toContain(`line ${lineOf(source, 'patch.mod =')} sets its fields`);
  });

  it('reads a per-CPU variable as a variable of its name, declared by its own macro where it is shared', () => {
    const { a, b, header, main } = split(livepatch('static DEFINE_PER_CPU(int, hits);\nstatic DEFINE_PER_CPU_READ_MOSTLY(long, limit);', 'this_cpu_inc(hits);\n\treturn x;', 'this_cpu_inc(hits);\n\treturn x + this_cpu_read(limit);'));
    expect(header).toContain('DECLARE_PER_CPU(int, fix_hits);');
    expect(main).toContain('DEFINE_PER_CPU(int, fix_hits);\nEXPORT_SYMBOL_GPL(fix_hits);');
    expect(b).toContain('static DEFINE_PER_CPU_READ_MOSTLY(long, limit);');
    expect(a).not.toContain('limit');
  });

  it('says what to write when a conditional cuts a function\'s head from its body', () => {
    const source = livepatch('#ifdef CONFIG_64BIT\nstatic int help(long x)\n#else\nstatic int help(int x)\n#endif\n{\n\treturn 1;\n}', 'return help(x);', 'return x;');
    const r = splitSource('fix.c', source);
    expect(r.kind).toBe('invalid');
    expect(r.diagnostics.map((d) => [d.code, d.line])).toEqual([
      ['conditional-splits-item', lineOf(source, 'static int help(long x)')],
      ['conditional-splits-item', lineOf(source, 'static int help(int x)')],
    ]);
    expect(r.diagnostics[0]!.message).toContain('write the whole function or declaration in each branch');
  });
});

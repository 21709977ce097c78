import { describe, expect, it } from 'vitest';
import { splitSource } from './split.js';
import { toCrlf, toLf, usesCrlf } from './line-endings.js';

/** A livepatch with one patched module: a main file and one per-object file. */
const SOURCE = `// SPDX-License-Identifier: GPL-2.0
#include <linux/module.h>
#include <linux/livepatch.h>

static int new_foo(void)
{
	return 0;
}

static struct klp_func funcs[] = {
	{ .old_name = "foo", .new_func = new_foo, }, { }
};

static struct klp_object objs[] = {
	{ .name = "mod", .funcs = funcs, },
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

const sources = (files: Map<string, string>): [string, string][] => [...files].filter(([name]) => /\.[ch]$/.test(name));

describe('line endings', () => {
  it('tells a CRLF source by most of its lines', () => {
    expect(usesCrlf('a\r\nb\r\nc\n')).toBe(true);
    expect(usesCrlf('a\nb\nc\r\n')).toBe(false);
    expect(toCrlf(toLf('a\r\nb\n'))).toBe('a\r\nb\r\n');
  });

  it('a CRLF source gives files with CRLF only, otherwise the same as its LF form', () => {
    const lf = splitSource('fix.c', SOURCE);
    const crlf = splitSource('fix.c', SOURCE.replace(/\n/g, '\r\n'));
    expect(crlf.kind).toBe('split');
    expect(sources(crlf.files).map(([n]) => n)).toEqual(['fix.c', 'fix__mod.c']);
    for (const [name, text] of sources(crlf.files)) {
      expect(text.match(/(?<!\r)\n/g), name).toBeNull();
      expect(text.replace(/\r\n/g, '\n'), name).toBe(lf.files.get(name));
    }
  });
});

describe('the end of the source', () => {
  it('keeps a comment after the last item at the end of the main file, with its blank line', () => {
    const r = splitSource('fix.c', `${SOURCE}\n/* end of fix.c */\n`);
    expect(r.files.get('fix.c')!.endsWith('MODULE_INFO(livepatch, "Y");\n\n/* end of fix.c */\n')).toBe(true);
    expect(r.files.get('fix__mod.c')).not.toContain('end of fix.c');
  });

  it('keeps it without a final newline too', () => {
    const r = splitSource('fix.c', `${SOURCE}// last words`);
    expect(r.files.get('fix.c')!.endsWith('MODULE_INFO(livepatch, "Y");\n// last words\n')).toBe(true);
  });
});

describe('bytes that are not UTF-8', () => {
  it('survive as latin1 characters, one per byte', () => {
    const text = SOURCE.replace('static int new_foo', '/* J\xfcrgen \xff */\nstatic int new_foo');
    const r = splitSource('fix.c', text);
    const out = r.files.get('fix__mod.c')!;
    expect(out).toContain('/* J\xfcrgen \xff */');
    expect(Buffer.from(out, 'latin1').includes(Buffer.from([0x4a, 0xfc, 0x72]))).toBe(true);
  });
});

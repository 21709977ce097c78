import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { splitModule } from './multi-file.js';

const dir = mkdtempSync(join(tmpdir(), 'klp-split-composite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const MAIN = `// SPDX-License-Identifier: GPL-2.0
/* the patch */

#include <linux/module.h>
#include <linux/livepatch.h>

int new_a(int v);
int new_b(int v);

static int new_c(int v)
{
	return v;
}

static struct klp_func a_funcs[] = {
	{ .old_name = "mod_a_read", .new_func = new_a, },
	{ }
};

static struct klp_func b_funcs[] = {
	{ .old_name = "mod_b_read", .new_func = new_b, },
	{ .old_name = "mod_b_write", .new_func = new_c, },
	{ }
};

static struct klp_func c_funcs[] = {
	{ .old_name = "mod_c_read", .new_func = new_c, },
	{ }
};

static struct klp_object objs[] = {
	{ .name = "mod_a", .funcs = a_funcs, },
	{ .name = "mod_b", .funcs = b_funcs, },
	{ .name = "mod_c", .funcs = c_funcs, },
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

const FUNCS = `// SPDX-License-Identifier: GPL-2.0
/* the functions */

#include <linux/module.h>
#include <linux/slab.h>

int new_a(int v)
{
	return v + 1;
}

int new_b(int v)
{
	return v + 2;
}
`;

describe('parts of a module built from several files', () => {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'fix_main.c'), MAIN);
  writeFileSync(join(dir, 'fix_funcs.c'), FUNCS);
  const paths = [join(dir, 'fix_main.c'), join(dir, 'fix_funcs.c')];

  it('writes a part drawing on two files as two files, each with its original\'s opening and includes, and a part drawing on one as one', () => {
    const r = splitModule('fix', paths);
    expect(r.kind).toBe('split');
    const parts = r.manifest!.parts;
    expect(parts.map((p) => [p.module, p.file, p.files])).toEqual([
      ['fix', 'fix.c', undefined],
      ['fix__mod_a', 'fix_main__mod_a.c', ['fix_main__mod_a.c', 'fix_funcs__mod_a.c']],
      ['fix__mod_b', 'fix_main__mod_b.c', ['fix_main__mod_b.c', 'fix_funcs__mod_b.c']],
      ['fix__mod_c', 'fix__mod_c.c', undefined],
    ]);
    const funcsB = r.files.get('fix_funcs__mod_b.c')!;
    expect(funcsB.startsWith('// SPDX-License-Identifier: GPL-2.0\n/* the functions */\n\n#include <linux/module.h>\n#include <linux/slab.h>\n')).toBe(true);
    expect(funcsB).toContain('int new_b(int v)');
    expect(funcsB).not.toMatch(/new_a|new_c|klp_add_object/);
    const mainB = r.files.get('fix_main__mod_b.c')!;
    expect(mainB.startsWith('// SPDX-License-Identifier: GPL-2.0\n/* the patch */\n\n#include <linux/module.h>\n#include <linux/livepatch.h>\n')).toBe(true);
    // The static helper stays in the file of its original, next to the array and the glue that use it.
    expect(mainB).toContain('static int new_c(int v)');
    expect(mainB).toContain('return klp_add_object(&obj);');
    expect(mainB).not.toContain('int new_b(int v)\n{');
    expect(r.files.get('fix__mod_c.c')).toContain('static int new_c(int v)');
    expect(r.files.has('fix_funcs__mod_c.c')).toBe(false);
  });

  it('in place (convert), the main module keeps the originals\' names', () => {
    const r = splitModule('fix', paths, { inPlace: true });
    expect(r.manifest!.parts[0]).toMatchObject({ module: 'fix', file: 'fix_main.c', files: ['fix_main.c'] });
    expect(r.files.get('fix_main.c')).toContain('\t.obj_names = obj_names,');
    expect(r.files.has('fix_funcs.c')).toBe(false);
  });
});

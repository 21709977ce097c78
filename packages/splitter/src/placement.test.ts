import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from '@klp-split/core';
import { placementViolations } from './placement-check.js';
import { splitSource, type SplitResult } from './split.js';

/**
 * Placement by object: code goes to the part of the module whose symbols it
 * uses, init work for a module moves into its per-object init, and what the
 * split cannot place keeping its meaning is refused at its line.
 */
const HEAD = '// SPDX-License-Identifier: GPL-2.0\n#include <linux/module.h>\n#include <linux/livepatch.h>\n\n';

function livepatch(opts: { decls?: string; code?: string; vmlinuxFuncs?: string; init?: string; exit?: string; objects?: string }): string {
  return `${HEAD}${opts.decls ?? ''}
${opts.code ?? ''}
static int new_cmdline(void)
{
	return 0;
}

static struct klp_func funcs[] = {
	{
		.old_name = "cmdline_proc_show",
		.new_func = ${opts.vmlinuxFuncs ?? 'new_cmdline'},
	}, { }
};

static struct klp_func mod_funcs[] = {
	{ }
};

static struct klp_object objs[] = {
	{
		.funcs = funcs,
	}, {
		.name = "klpc_mod",
		.funcs = mod_funcs,
	},${opts.objects ?? ''} { }
};

static struct klp_patch patch = {
	.mod = THIS_MODULE,
	.objs = objs,
};

static int fix_init(void)
{
${opts.init ?? '\tint ret;\n\n\tret = klp_enable_patch(&patch);\n\tif (ret)\n\t\treturn ret;\n\n\tprint_driver_name();\n\n\treturn 0;'}
}

static void fix_exit(void)
{
${opts.exit ?? ''}}

module_init(fix_init);
module_exit(fix_exit);
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
`;
}

const ANNOTATED = 'extern char klpc_driver_name[] KLP_RELOC_SYMBOL(klpc_mod, klpc_mod, klpc_driver_name);\nextern const char *klpc_homonym KLP_RELOC_SYMBOL_POS(klpc_mod, klpc_mod, klpc_homonym, 2);\n';
const HELPER = 'void print_driver_name(void)\n{\n\tpr_info("%s %s\\n", klpc_driver_name, klpc_homonym);\n}\n';

const split = (src: string): SplitResult => splitSource('fix.c', src);
const errors = (r: SplitResult): string[] => r.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic);

describe('placement by object', () => {
  it('parses both annotation forms and moves a helper that reads a module\'s statics, with its init work, into that module\'s part', () => {
    const r = split(livepatch({ decls: ANNOTATED, code: HELPER }));
    expect(errors(r)).toEqual([]);
    const main = r.files.get('fix.c')!;
    const part = r.files.get('fix__klpc_mod.c')!;
    expect(main).not.toContain('print_driver_name');
    expect(main).not.toContain('klpc_driver_name');
    expect(part).toContain(ANNOTATED + '\n' + HELPER);
    expect(part).toContain('static int fix__klpc_mod_init(void)\n{\n\tint ret;\n\n\tret = klp_add_object(&obj);\n\tif (ret)\n\t\treturn ret;\n\n\tprint_driver_name();\n\n\treturn 0;\n}');
    expect(main).toContain('static int fix_init(void)\n{\n\tint ret;\n\n\tret = klp_enable_patch(&patch);\n\tif (ret)\n\t\treturn ret;\n\n\treturn 0;\n}');
    expect(placementViolations(r.files, r.manifest!)).toEqual([]);
  });

  it('keeps init work that ran before klp_enable_patch() before klp_add_object()', () => {
    const init = '\tprint_driver_name();\n\treturn klp_enable_patch(&patch);';
    const r = split(livepatch({ decls: ANNOTATED, code: HELPER, init }));
    expect(errors(r)).toEqual([]);
    expect(r.files.get('fix__klpc_mod.c')).toContain('static int fix__klpc_mod_init(void)\n{\n\tprint_driver_name();\n\treturn klp_add_object(&obj);\n}');
    expect(r.files.get('fix.c')).toContain('static int fix_init(void)\n{\n\treturn klp_enable_patch(&patch);\n}');
  });

  it('sends a KLP_MODULE_RELOC list to the part whose code uses its symbols, positions kept', () => {
    const decls = 'extern char klpc_driver_name[];\nextern const char *klpc_homonym;\n\nKLP_MODULE_RELOC(klpc_mod) fix_relocs[] = {\n\tKLP_SYMPOS(klpc_driver_name, 0),\n\tKLP_SYMPOS(klpc_homonym, 2),\n};\n';
    const r = split(livepatch({ decls, code: HELPER }));
    expect(errors(r)).toEqual([]);
    expect(r.files.get('fix__klpc_mod.c')).toContain('KLP_MODULE_RELOC(klpc_mod) fix_relocs[] = {\n\tKLP_SYMPOS(klpc_driver_name, 0),\n\tKLP_SYMPOS(klpc_homonym, 2),\n};');
    expect(r.files.get('fix.c')).not.toContain('KLP_MODULE_RELOC');
  });

  it('refuses module_exit work that touches a module: its per-object exit also runs after the module is freed', () => {
    const exit = '\tprint_driver_name();\n';
    const r = split(livepatch({ decls: ANNOTATED, code: HELPER, exit }));
    expect(errors(r)).toEqual([expect.stringMatching(/^fix\.c:\d+:2: error: this module_exit statement uses 'print_driver_name' \(line 8\) -> 'klpc_driver_name' of 'klpc_mod' \(line 10\): .* after 'klpc_mod' is freed; undo work for 'klpc_mod' in a post_unpatch callback .*\[exit-touches-module\]$/)]);
  });

  it('refuses a vmlinux replacement that calls into a module, naming the symbol, its object and the rule', () => {
    const code = `${HELPER}\nstatic int new_cmdline_calls_mod(void)\n{\n\tprint_driver_name();\n\treturn 0;\n}\n`;
    const r = split(livepatch({ decls: ANNOTATED, code, vmlinuxFuncs: 'new_cmdline_calls_mod' }));
    expect(r.kind).toBe('invalid');
    expect(r.files.size).toBe(0);
    expect(errors(r)).toEqual([
      expect.stringMatching(/^fix\.c:13:1: error: vmlinux's replacement 'new_cmdline_calls_mod' for 'cmdline_proc_show' is in the main module and uses 'print_driver_name' \(line 8\) -> 'klpc_driver_name' of 'klpc_mod' \(line 10\): only the per-object module 'fix__klpc_mod' may relocate against 'klpc_mod' .*\[main-touches-module\]$/),
    ]);
  });

  it('refuses code that touches two modules, and init work for two modules in one statement', () => {
    const decls = `${ANNOTATED}extern int klpd_level KLP_RELOC_SYMBOL(klpd_mod, klpd_mod, klpd_level);\n`;
    const code = 'void print_both(void)\n{\n\tpr_info("%s %d\\n", klpc_driver_name, klpd_level);\n}\n';
    const other = ' {\n\t\t.name = "klpd_mod",\n\t\t.funcs = mod_funcs,\n\t},';
    const r = split(livepatch({ decls, code, objects: other, init: '\tint ret;\n\n\tret = klp_enable_patch(&patch);\n\tif (ret)\n\t\treturn ret;\n\tprint_both();\n\treturn 0;' }));
    expect(errors(r).map((e) => /\[([a-z-]+)\]$/.exec(e)![1])).toEqual(['init-touches-several-modules']);
    expect(errors(r)[0]).toMatch(/uses 'print_both' \(line \d+\) -> 'klpc_driver_name' of 'klpc_mod' \(line \d+\) and 'print_both' \(line \d+\) -> 'klpd_level' of 'klpd_mod'/);
  });

  it('refuses init work for a module that may leave the init after klp_add_object()', () => {
    const init = '\tint ret;\n\n\tret = klp_enable_patch(&patch);\n\tif (ret)\n\t\treturn ret;\n\tif (!klpc_driver_name[0])\n\t\treturn -EINVAL;\n\treturn 0;';
    const r = split(livepatch({ decls: ANNOTATED, init }));
    expect(errors(r)).toEqual([expect.stringMatching(/^fix\.c:\d+:2: error: this statement of the module_init function 'fix_init' uses 'klpc_driver_name' of 'klpc_mod' .* may leave the init .*\[init-work-returns\]$/)]);
  });

  it('refuses a local the main init and a module\'s init work would share', () => {
    const code = 'int count_driver_name(void)\n{\n\treturn klpc_driver_name[0];\n}\n';
    const init = '\tint ret;\n\n\tret = klp_enable_patch(&patch);\n\tif (ret)\n\t\treturn ret;\n\tret = count_driver_name();\n\treturn ret;';
    const r = split(livepatch({ decls: ANNOTATED, code, init }));
    expect(errors(r)).toEqual([expect.stringMatching(/local 'ret' of the module_init function 'fix_init' is used by work of the main module and 'klpc_mod'.*\[init-local-shared\]$/)]);
  });

  it('refuses a symbol of a module the livepatch has no klp_object for', () => {
    const decls = 'extern int other_level KLP_RELOC_SYMBOL(other_mod, other_mod, other_level);\n';
    const code = 'static int new_read(void)\n{\n\treturn other_level;\n}\n';
    const r = split(livepatch({ decls, code, vmlinuxFuncs: 'new_read' }));
    expect(errors(r)[0]).toMatch(/'other_level' is in module 'other_mod' \(KLP_RELOC_SYMBOL names 'other_mod'\), which this livepatch has no klp_object for.*\[module-not-patched\]$/);
  });

  it('places an unused function that touches a module with that module, not in the main module', () => {
    const r = split(livepatch({ decls: ANNOTATED, code: `${HELPER}\nvoid unused_reader(void)\n{\n\tpr_info("%s\\n", klpc_driver_name);\n}\n` }));
    expect(errors(r)).toEqual([]);
    expect(r.files.get('fix__klpc_mod.c')).toContain('void unused_reader(void)');
    expect(r.files.get('fix.c')).not.toContain('unused_reader');
  });
});

describe('placementViolations', () => {
  it('finds main-module code that uses a module\'s annotated symbol in a split written by hand', () => {
    const manifest = { patch: 'fix', source: 'fix.c', objNames: ['klpc_mod'], exports: [], parts: [{ object: 'vmlinux', module: 'fix', file: 'fix.c', funcs: [], callbacks: [] }, { object: 'klpc_mod', module: 'fix__klpc_mod', file: 'fix__klpc_mod.c', funcs: [], callbacks: [] }] };
    const files = new Map([
      ['fix.c', `${HEAD}${ANNOTATED}\n${HELPER}`],
      ['fix__klpc_mod.c', HEAD],
    ]);
    const v = placementViolations(files, manifest as never);
    expect(v.map((x) => `${x.file}:${x.line}:${x.col} ${x.symbol} ${x.symbolObject} ${x.module}`)).toEqual(['fix.c:10:21 klpc_driver_name klpc_mod fix', 'fix.c:10:39 klpc_homonym klpc_mod fix']);
    expect(v[0]!.message).toContain("only the per-object module 'fix__klpc_mod' may relocate against 'klpc_mod'");
  });
});

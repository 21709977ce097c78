// Livepatch sources of a given size in several shapes, for bench/split-scale.bench.mjs: each a real
// livepatch of vmlinux and one module whose bulk is the shape's items (the split keeps them all).
import { generateLivepatch } from './gen-livepatch.mjs';

const HEAD = '// SPDX-License-Identifier: GPL-2.0\n#include <linux/module.h>\n#include <linux/kernel.h>\n#include <linux/livepatch.h>\n#include <linux/seq_file.h>\n\n';

/** The livepatch around the bulk: its replacement reads `use` so that the bulk is needed by the main part. */
function tail(use) {
  return `
static int livepatch_cmdline_proc_show(struct seq_file *m, void *v)
{
	seq_printf(m, "%d\\n", ${use});
	return 0;
}

static int livepatch_klp_scale_work(int v)
{
	return v + 1;
}

static struct klp_func funcs[] = {
	{
		.old_name = "cmdline_proc_show",
		.new_func = livepatch_cmdline_proc_show,
	}, { }
};

static struct klp_func mod_funcs[] = {
	{
		.old_name = "klp_scale_work",
		.new_func = livepatch_klp_scale_work,
	}, { }
};

static struct klp_object objs[] = {
	{
		.funcs = funcs,
	}, {
		.name = "klp_scale_mod",
		.funcs = mod_funcs,
	}, { }
};

static struct klp_patch patch = {
	.mod = THIS_MODULE,
	.objs = objs,
};

static int livepatch_init(void)
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
}

/** Items of `make(i)` until the source reaches `bytes`; `use(n)` names what the patch reads of n items. */
function fill(bytes, make, use) {
  const parts = [HEAD];
  let size = HEAD.length + 1200;
  let n = 0;
  while (size < bytes) {
    const item = make(n++);
    parts.push(item);
    size += item.length;
  }
  parts.push(tail(use(n)));
  return parts.join('');
}

export const SHAPES = {
  /** #define lines (the 10k/40k/80k cases). */
  defines: (bytes) => fill(bytes, (i) => `#define KLP_SCALE_${i} (${i} + 1)\n`, (n) => `KLP_SCALE_${n - 1}`),
  /** Static variables, one declaration each. */
  declarations: (bytes) => fill(bytes, (i) => `static int klp_scale_var_${i} = ${i};\n`, (n) => `klp_scale_var_${n - 1}`),
  /** Functions each calling the one before: a dependency chain as long as the file. */
  'function chain': (bytes) => fill(bytes, (i) => (i === 0 ? 'static int klp_scale_f0(int x)\n{\n\treturn x;\n}\n\n' : `static int klp_scale_f${i}(int x)\n{\n\treturn klp_scale_f${i - 1}(x) + ${i};\n}\n\n`), (n) => `klp_scale_f${n - 1}(1)`),
  /** Functions under #ifdef blocks of their own. */
  'ifdef blocks': (bytes) => fill(bytes, (i) => `#ifdef CONFIG_KLP_SCALE_${i}\nstatic int klp_scale_if_${i}(int x)\n{\n\treturn x + ${i};\n}\n#endif\n\n`, () => '1'),
  /** 20 patched modules, their klp_func arrays growing (bench/gen-livepatch.mjs). */
  'objects x funcs': (bytes) => {
    const per = generateLivepatch(20, 100).length / 100;
    let n = Math.max(1, Math.floor(bytes / per));
    let src = generateLivepatch(20, n);
    while (src.length > bytes && n > 1) src = generateLivepatch(20, (n = Math.floor(n * 0.98)));
    return src;
  },
};

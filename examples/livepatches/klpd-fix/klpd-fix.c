// SPDX-License-Identifier: GPL-2.0
/*
 * klpd-fix: one livepatch for vmlinux and the three example modules, written
 * the ordinary (unsplit) way. klp-split turns it into klpd-fix.ko for
 * vmlinux plus klpd-fix__klpd-counter.ko, klpd-fix__klpd-parser.ko and
 * klpd-fix__klpd-ticker.ko.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/seq_file.h>
#include <linux/kstrtox.h>

/* How chatty the fixes are; a module parameter stays in the main module. */
static int verbose;
module_param(verbose, int, 0644);
MODULE_PARM_DESC(verbose, "log every fixed call (default 0)");

#define KLPD_MAX_VALUE	5000
#define KLPD_MAX_LEVEL	7

/* Shadow variable id: marks items whose value the fix clamped. */
#define KLPD_SV_CLAMPED	1

/* System state this patch introduces: "ticks are counted twice as fast". */
#define KLPD_STATE_FAST_TICKS	1

static struct klp_patch patch;

/* Shared by the counter and parser fixes. */
static int klpd_clamp(int value, int max)
{
	return value > max ? max : value;
}

static int klpd_cmdline_proc_show(struct seq_file *m, void *v)
{
	seq_printf(m, "%s\n", "this has been live patched by klpd-fix");
	return 0;
}

static int klpd_counter_add(int value)
{
	int clamped = klpd_clamp(value, KLPD_MAX_VALUE);
	int *mark;

	if (verbose)
		pr_info("add %d (clamped to %d)\n", value, clamped);
	mark = klp_shadow_get_or_alloc(&value, KLPD_SV_CLAMPED, sizeof(*mark), GFP_KERNEL, NULL, NULL);
	if (mark)
		*mark = clamped != value;
	return 0;
}

static int klpd_parse_level(const char *text)
{
	int level;

	if (kstrtoint(text, 10, &level))
		return -EINVAL;
	if (verbose)
		pr_info("level %s\n", text);
	return klpd_clamp(level, KLPD_MAX_LEVEL);
}

static unsigned long klpd_fast_ticks;

static void klpd_ticker_tick(void)
{
	klpd_fast_ticks += 2;
}

static int klpd_ticker_pre_patch(struct klp_object *obj)
{
	pr_info("%s: patching %s\n", __func__, obj->name);
	return 0;
}

static void klpd_ticker_post_unpatch(struct klp_object *obj)
{
	pr_info("%s: %lu fast ticks\n", __func__, klpd_fast_ticks);
}

static int klpd_vmlinux_pre_patch(struct klp_object *obj)
{
	struct klp_state *state = klp_get_state(&patch, KLPD_STATE_FAST_TICKS);

	if (state)
		state->data = NULL;
	return 0;
}

static struct klp_func vmlinux_funcs[] = {
	{
		.old_name = "cmdline_proc_show",
		.new_func = klpd_cmdline_proc_show,
	}, { }
};

static struct klp_func counter_funcs[] = {
	{
		.old_name = "klpd_counter_add",
		.new_func = klpd_counter_add,
	}, { }
};

static struct klp_func parser_funcs[] = {
	{
		.old_name = "klpd_parse_level",
		.new_func = klpd_parse_level,
	}, { }
};

static struct klp_func ticker_funcs[] = {
	{
		.old_name = "klpd_ticker_tick",
		.new_func = klpd_ticker_tick,
	}, { }
};

static struct klp_object objs[] = {
	{
		.name = NULL,	/* vmlinux */
		.funcs = vmlinux_funcs,
		.callbacks = {
			.pre_patch = klpd_vmlinux_pre_patch,
		},
	}, {
		.name = "klpd_counter",
		.funcs = counter_funcs,
	}, {
		.name = "klpd_parser",
		.funcs = parser_funcs,
	}, {
		.name = "klpd_ticker",
		.funcs = ticker_funcs,
		.callbacks = {
			.pre_patch = klpd_ticker_pre_patch,
			.post_unpatch = klpd_ticker_post_unpatch,
		},
	}, { }
};

static struct klp_state states[] = {
	{
		.id = KLPD_STATE_FAST_TICKS,
		.version = 1,
	}, { }
};

static struct klp_patch patch = {
	.mod = THIS_MODULE,
	.objs = objs,
	.states = states,
};

static int klpd_fix_init(void)
{
	return klp_enable_patch(&patch);
}

static void klpd_fix_exit(void)
{
	/* Forget which items were clamped. */
	klp_shadow_free_all(KLPD_SV_CLAMPED, NULL);
}

module_init(klpd_fix_init);
module_exit(klpd_fix_exit);
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
MODULE_DESCRIPTION("klp-split example livepatch");

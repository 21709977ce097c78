// SPDX-License-Identifier: GPL-2.0
/*
 * klpd-deadlock: a livepatch with a deliberate defect, for 'klp-split
 * verify' to catch. Its fix for klpd-parser calls klpd_parser_version(),
 * which klpd-parser itself exports. Split, that call makes the per-object
 * module depend on its own target: when klpd-parser loads after the patch,
 * the kernel requests klpd-deadlock__klpd-parser while klpd-parser is still
 * COMING, and modprobe would load klpd-parser again (a deadlock the split
 * design leaves unsolved). Not part of the workspace's default run.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/kstrtox.h>

int klpd_parser_version(void);

static int klpd_parse_level(const char *text)
{
	int level;

	if (kstrtoint(text, 10, &level))
		return -EINVAL;
	if (klpd_parser_version() > 1)
		return level;
	return level > 7 ? 7 : level;
}

static struct klp_func parser_funcs[] = {
	{
		.old_name = "klpd_parse_level",
		.new_func = klpd_parse_level,
	}, { }
};

static struct klp_object objs[] = {
	{
		.name = "klpd_parser",
		.funcs = parser_funcs,
	}, { }
};

static struct klp_patch patch = {
	.mod = THIS_MODULE,
	.objs = objs,
};

static int klpd_deadlock_init(void)
{
	return klp_enable_patch(&patch);
}

static void klpd_deadlock_exit(void)
{
}

module_init(klpd_deadlock_init);
module_exit(klpd_deadlock_exit);
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
MODULE_DESCRIPTION("klp-split example: a defect verify catches");

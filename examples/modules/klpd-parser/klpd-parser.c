// SPDX-License-Identifier: GPL-2.0
/*
 * klpd-parser: parses log levels from strings. klpd_parse_level() accepts
 * levels above 7; the example livepatch clamps them.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/kstrtox.h>

static char *level = "9";
module_param(level, charp, 0444);
MODULE_PARM_DESC(level, "level to parse at load time");

static noinline int klpd_parse_level(const char *text)
{
	int level;

	if (kstrtoint(text, 10, &level))
		return -EINVAL;
	return level;
}

/* Other modules may ask which parser they talk to. */
int klpd_parser_version(void)
{
	return 1;
}
EXPORT_SYMBOL_GPL(klpd_parser_version);

static int klpd_parser_init(void)
{
	pr_info("level %d\n", klpd_parse_level(level));
	return 0;
}

static void klpd_parser_exit(void)
{
}

module_init(klpd_parser_init);
module_exit(klpd_parser_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("klp-split example target: a parser");

// SPDX-License-Identifier: GPL-2.0
/*
 * klpd-counter: keeps a list of counted items. klpd_counter_add() forgets to
 * bound the value; the example livepatch fixes it and remembers, in a shadow
 * variable, which items it clamped.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/list.h>
#include <linux/slab.h>

struct klpd_item {
	struct list_head list;
	int value;
};

static LIST_HEAD(klpd_items);

static noinline int klpd_counter_add(int value)
{
	struct klpd_item *item = kzalloc(sizeof(*item), GFP_KERNEL);

	if (!item)
		return -ENOMEM;
	item->value = value;
	list_add_tail(&item->list, &klpd_items);
	return 0;
}

static noinline long klpd_counter_sum(void)
{
	struct klpd_item *item;
	long sum = 0;

	list_for_each_entry(item, &klpd_items, list)
		sum += item->value;
	return sum;
}

static int klpd_counter_init(void)
{
	int i, ret;

	for (i = 1; i <= 4; i++) {
		ret = klpd_counter_add(i * 1000);
		if (ret)
			return ret;
	}
	pr_info("sum %ld\n", klpd_counter_sum());
	return 0;
}

static void klpd_counter_exit(void)
{
	struct klpd_item *item, *tmp;

	list_for_each_entry_safe(item, tmp, &klpd_items, list) {
		list_del(&item->list);
		kfree(item);
	}
}

module_init(klpd_counter_init);
module_exit(klpd_counter_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("klp-split example target: a counter");

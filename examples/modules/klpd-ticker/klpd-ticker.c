// SPDX-License-Identifier: GPL-2.0
/*
 * klpd-ticker: runs klpd_ticker_tick() every second from a delayed work.
 * The example livepatch replaces the tick and uses callbacks around it.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/workqueue.h>

static void klpd_ticker_work_func(struct work_struct *work);
static DECLARE_DELAYED_WORK(klpd_ticker_work, klpd_ticker_work_func);
static unsigned long klpd_ticks;

static noinline void klpd_ticker_tick(void)
{
	klpd_ticks++;
}

static void klpd_ticker_work_func(struct work_struct *work)
{
	klpd_ticker_tick();
	schedule_delayed_work(&klpd_ticker_work, HZ);
}

static int klpd_ticker_init(void)
{
	schedule_delayed_work(&klpd_ticker_work, HZ);
	return 0;
}

static void klpd_ticker_exit(void)
{
	cancel_delayed_work_sync(&klpd_ticker_work);
	pr_info("%lu ticks\n", klpd_ticks);
}

module_init(klpd_ticker_init);
module_exit(klpd_ticker_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("klp-split example target: a ticker");

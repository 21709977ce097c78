/**
 * C text every generator of the differential fault modules shares: the
 * replacement functions, the callbacks printing what the kernel's test
 * livepatches print, and the end of a classic livepatch module.
 */

/** The replacement of vmlinux's cmdline_proc_show (what the kernel's own samples patch). */
export const VMLINUX_REPLACEMENT = `static int livepatch_cmdline_proc_show(struct seq_file *m, void *v)
{
	seq_printf(m, "%s\\n", KBUILD_MODNAME ": this has been live patched");
	return 0;
}`;

/** Replacement of a target's `int f(int)`. */
export const MODULE_REPLACEMENT = `static noinline int livepatch_target_function(int x)
{
	return x + 100;
}`;

/**
 * Callbacks printing the callback, obj->mod and its state
 * (`<callback>: vmlinux` when obj->mod is NULL); the pre-patch one returns `ret`.
 */
export function callbacks(ret: string): string {
  return `static const char *const module_state[] = {
	[MODULE_STATE_LIVE] = "[MODULE_STATE_LIVE] Normal state",
	[MODULE_STATE_COMING] = "[MODULE_STATE_COMING] Full formed, running module_init",
	[MODULE_STATE_GOING] = "[MODULE_STATE_GOING] Going away",
	[MODULE_STATE_UNFORMED] = "[MODULE_STATE_UNFORMED] Still setting it up",
};

static void callback_info(const char *callback, struct klp_object *obj)
{
	if (obj->mod)
		pr_info("%s: %s -> %s\\n", callback, obj->mod->name, module_state[obj->mod->state]);
	else
		pr_info("%s: vmlinux\\n", callback);
}

static int pre_patch_callback(struct klp_object *obj)
{
	callback_info(__func__, obj);
	return ${ret};
}

static void post_patch_callback(struct klp_object *obj)
{
	callback_info(__func__, obj);
}

static void pre_unpatch_callback(struct klp_object *obj)
{
	callback_info(__func__, obj);
}

static void post_unpatch_callback(struct klp_object *obj)
{
	callback_info(__func__, obj);
}`;
}

/** A classic livepatch's `struct klp_patch` with these fields, its init (after `initLines`) enabling it, exit and module info. */
export function classicPatchTail(fields: string[], opts: { initLines?: string[]; marked?: boolean } = {}): string[] {
  return [
    'static struct klp_patch patch = {',
    ...fields.map((f) => `\t${f},`),
    '};',
    '',
    'static int livepatch_init(void)',
    '{',
    ...(opts.initLines ?? []),
    '\treturn klp_enable_patch(&patch);',
    '}',
    '',
    'static void livepatch_exit(void)',
    '{',
    '}',
    '',
    'module_init(livepatch_init);',
    'module_exit(livepatch_exit);',
    'MODULE_LICENSE("GPL");',
    ...(opts.marked === false ? [] : ['MODULE_INFO(livepatch, "Y");']),
    '',
  ];
}

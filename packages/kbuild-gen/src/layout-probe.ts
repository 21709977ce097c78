/**
 * A tiny module whose only content is the size and field offsets of the
 * livepatch structures, as the compiler lays them out for this kernel's
 * configuration. The simulator reads struct klp_object and friends out of
 * the built modules' data with these numbers instead of guessing them.
 */
export const LAYOUT_SYMBOL_PREFIX = 'klp_layout__';

export const SPLIT_LAYOUT_FIELDS: Record<string, string[]> = {
  klp_func: ['old_name', 'new_func', 'old_sympos'],
  klp_callbacks: ['pre_patch', 'post_patch', 'pre_unpatch', 'post_unpatch', 'post_unpatch_enabled'],
  klp_object: ['patch_name', 'name', 'funcs', 'callbacks', 'mod'],
  klp_patch: ['obj', 'obj_names', 'states', 'replace'],
  klp_state: ['id', 'version', 'data'],
};

/** The stock (upstream) structures, for classic livepatches. */
export const STOCK_LAYOUT_FIELDS: Record<string, string[]> = {
  klp_func: ['old_name', 'new_func', 'old_sympos'],
  klp_callbacks: ['pre_patch', 'post_patch', 'pre_unpatch', 'post_unpatch', 'post_unpatch_enabled'],
  klp_object: ['name', 'funcs', 'callbacks', 'mod'],
  klp_patch: ['mod', 'objs', 'states', 'replace'],
  klp_state: ['id', 'version', 'data'],
};

export function layoutProbeSource(fields: Record<string, string[]>): string {
  const lines = ['// SPDX-License-Identifier: GPL-2.0', '#include <linux/module.h>', '#include <linux/livepatch.h>', ''];
  for (const [struct, names] of Object.entries(fields)) {
    lines.push(`const unsigned long ${LAYOUT_SYMBOL_PREFIX}${struct}__sizeof = sizeof(struct ${struct});`);
    for (const f of names) {
      lines.push(`const unsigned long ${LAYOUT_SYMBOL_PREFIX}${struct}__${f} = offsetof(struct ${struct}, ${f});`);
    }
  }
  lines.push('', 'MODULE_LICENSE("GPL");', '');
  return lines.join('\n');
}

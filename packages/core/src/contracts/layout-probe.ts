/**
 * The layout probe: a tiny module whose only content is the size and field
 * offsets of the livepatch structures, as the compiler lays them out for one
 * kernel configuration. kbuild-gen writes its source from these names and
 * the simulator reads the built module's symbols back by the same names, so
 * both sides take them from here.
 */
import { CALLBACK_KINDS } from './callbacks.js';

const LAYOUT_SYMBOL_PREFIX = 'klp_layout__';
/** The pseudo-field that carries sizeof(struct ...). */
export const LAYOUT_SIZEOF = 'sizeof';

const CALLBACK_FIELDS = [...CALLBACK_KINDS, 'post_unpatch_enabled'];

/** Fields of the split livepatch API's structures (the overlay's livepatch.h). */
export const SPLIT_LAYOUT_FIELDS: Record<string, string[]> = {
  klp_func: ['old_name', 'new_func', 'old_sympos'],
  klp_callbacks: CALLBACK_FIELDS,
  klp_object: ['patch_name', 'name', 'funcs', 'callbacks', 'mod'],
  klp_patch: ['obj', 'obj_names', 'states', 'replace'],
  klp_state: ['id', 'version', 'data'],
};

/** The stock (upstream) structures, for classic livepatches. */
export const STOCK_LAYOUT_FIELDS: Record<string, string[]> = {
  klp_func: ['old_name', 'new_func', 'old_sympos'],
  klp_callbacks: CALLBACK_FIELDS,
  klp_object: ['name', 'funcs', 'callbacks', 'mod'],
  klp_patch: ['mod', 'objs', 'states', 'replace'],
  klp_state: ['id', 'version', 'data'],
};

/** Structures the simulator cannot do without. */
export const REQUIRED_LAYOUT_STRUCTS = ['klp_func', 'klp_object', 'klp_patch', 'klp_callbacks'] as const;

/** `klp_layout__<struct>__<field>` (or `__sizeof`). */
export function layoutSymbolName(struct: string, field: string): string {
  return `${LAYOUT_SYMBOL_PREFIX}${struct}__${field}`;
}

/** The struct and field a layout symbol stands for, or undefined for any other symbol. */
export function parseLayoutSymbolName(name: string): { struct: string; field: string } | undefined {
  if (!name.startsWith(LAYOUT_SYMBOL_PREFIX)) return undefined;
  const rest = name.slice(LAYOUT_SYMBOL_PREFIX.length);
  const cut = rest.lastIndexOf('__');
  if (cut <= 0 || cut + 2 >= rest.length) return undefined;
  return { struct: rest.slice(0, cut), field: rest.slice(cut + 2) };
}

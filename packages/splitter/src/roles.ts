import { stripStringsAndComments } from './c-identifiers.js';
import type { Item } from './items.js';
import type { LivepatchModel } from './livepatch-model.js';

/**
 * How an item may move between the split parts:
 * - special: rewritten by the splitter (patch, object array, init/exit, module_init...);
 * - everywhere: every part needs it (includes, pr_fmt);
 * - attached: follows the item it names (module_param(x), EXPORT_SYMBOL(x));
 * - modinfo: MODULE_AUTHOR and friends;
 * - decl: declarations, macros, types, static inline helpers: shared through the header;
 * - copy: code or constant data that each part may have its own copy of;
 * - single: state that must exist once: stays in one part, exported if others use it;
 * - reloc-list: a KLP_MODULE_RELOC array, which only says where the symbols it lists are:
 *   a copy goes to every part that uses one of them.
 */
export type Role = 'special' | 'everywhere' | 'attached' | 'modinfo' | 'decl' | 'copy' | 'single' | 'reloc-list';

const REWRITTEN_CALLS = new Set(['module_init', 'module_exit', 'MODULE_LICENSE', 'MODULE_INFO']);
const PARAM_CALLS = /^(?:module_param(?:_named|_array|_cb|_string|_unsafe)?|MODULE_PARM_DESC)$/;
const EXPORT_CALLS = /^EXPORT_SYMBOL(?:_GPL)?(?:_NS)?$/;
/** Module information a per-object module repeats from its main module. */
export const COPIED_MODINFO = new Set(['MODULE_AUTHOR', 'MODULE_DESCRIPTION']);

export function roleOf(item: Item, model: LivepatchModel): Role {
  if (item === model.patchItem || item === model.objsItem || item === model.initItem || item === model.exitItem) return 'special';
  switch (item.kind) {
    case 'include':
      return 'everywhere';
    case 'macro':
      return item.defines[0] === 'pr_fmt' || item.defines[0] === 'dev_fmt' ? 'everywhere' : 'decl';
    case 'type':
    case 'prototype':
      return 'decl';
    case 'function':
      if (item.isInline) return 'decl';
      return item.stateful ? 'single' : 'copy';
    case 'variable':
      if (isModuleRelocList(item)) return 'reloc-list';
      return item.isConst || item.structTag === 'klp_func' ? 'copy' : 'single';
    case 'call': {
      const name = item.call!.name;
      if (REWRITTEN_CALLS.has(name)) return 'special';
      if (PARAM_CALLS.test(name) || EXPORT_CALLS.test(name)) return 'attached';
      if (name.startsWith('MODULE_')) return 'modinfo';
      return 'attached';
    }
    default:
      return 'single';
  }
}

export function isParamCall(item: Item): boolean {
  return item.kind === 'call' && PARAM_CALLS.test(item.call!.name) && item.call!.name !== 'MODULE_PARM_DESC';
}

export function isExportCall(item: Item): boolean {
  return item.kind === 'call' && EXPORT_CALLS.test(item.call!.name);
}

/** The name an attached call is about: `x` in module_param(x, ...), the variable in module_param_named. */
export function attachedSubject(item: Item): string | undefined {
  const call = item.call;
  if (!call) return undefined;
  const arg = call.name === 'module_param_named' ? call.args[1] : call.name === 'module_param_cb' ? call.args[2] : call.args[0];
  return arg?.text.replace(/^&\s*/, '');
}

/** `KLP_MODULE_RELOC(obj) name[] = { KLP_SYMPOS(sym, pos), ... };` (mask.ts, reloc-annotations.ts). */
export function isModuleRelocList(item: Item): boolean {
  return item.kind === 'variable' && /^\s*(?:static\s+)?KLP_MODULE_RELOC\s*\(/.test(stripStringsAndComments(item.text));
}

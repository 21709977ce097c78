import type { Item, SourceUnit } from './items.js';
import { isExportCall } from './roles.js';

/**
 * Names of what the split exports from the main module. A cumulative v2 of
 * a patch is loaded while v1 is still loaded (atomic replace), so an export
 * named `verbose` by both would make v2's main module fail to load
 * ("exports duplicate symbol"). Every export the split makes is therefore
 * prefixed with the patch's module name, which differs between the two
 * versions, and renamed consistently in every part. Names the author
 * exported already keep their name: they chose that interface.
 */
export class ExportNames {
  readonly renames = new Map<string, string>();

  constructor(unit: SourceUnit, patch: string, exported: readonly Item[]) {
    const already = new Set(unit.items.filter(isExportCall).map((i) => i.call!.args[0]?.text));
    const taken = new Set(unit.byName.keys());
    for (const item of exported) {
      const name = item.defines[0]!;
      // A name the author already prefixed with the patch (`nca_fix_hits` in nca_fix) is unique as it is.
      if (already.has(name) || name.startsWith(`${patch}_`)) continue;
      let renamed = `${patch}_${name}`;
      while (taken.has(renamed)) renamed = `${renamed}_`;
      taken.add(renamed);
      this.renames.set(name, renamed);
    }
  }

  name(n: string): string {
    return this.renames.get(n) ?? n;
  }

  /** Does the item mention a renamed name (and so need its text rewritten)? */
  touches(item: Item): boolean {
    if (!this.renames.size) return false;
    for (const n of this.renames.keys()) if (item.uses.has(n) || item.defines.includes(n)) return true;
    return false;
  }

  /** The item's text with renamed names; a module parameter keeps its user-visible name. */
  itemText(item: Item, text: string): string {
    if (!this.touches(item)) return text;
    if (item.kind === 'call') return this.callText(item, text);
    return renameIdentifiers(text, this.renames);
  }

  /** A piece of generated or moved code (exit statements, initializer fields). */
  code(text: string): string {
    return this.renames.size ? renameIdentifiers(text, this.renames) : text;
  }

  private callText(item: Item, text: string): string {
    const call = item.call!;
    const subject = call.args[0]?.text ?? '';
    const renamed = this.renames.get(subject);
    // module_param(verbose, ...) names both the parameter and the variable:
    // the _named form keeps the parameter `verbose` on the renamed variable.
    const named: Record<string, string> = {
      module_param: 'module_param_named',
      module_param_array: 'module_param_array_named',
      module_param_unsafe: 'module_param_named_unsafe',
    };
    if (renamed && named[call.name]) {
      const open = text.indexOf('(');
      return `${text.slice(0, open).replace(call.name, named[call.name]!)}(${subject}, ${renamed},${text.slice(text.indexOf(',', open) + 1)}`;
    }
    if (call.name === 'MODULE_PARM_DESC') return text;
    if (/^module_param_(?:named|cb|array_named|named_unsafe|string)$/.test(call.name)) {
      // The first argument is the parameter's name, never the variable.
      const comma = text.indexOf(',');
      return comma < 0 ? text : text.slice(0, comma) + renameIdentifiers(text.slice(comma), this.renames);
    }
    return renameIdentifiers(text, this.renames);
  }
}

const TOKEN_RE = /"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|\/\*[\s\S]*?\*\/|\/\/[^\n]*|(->|\.)?(\s*)\b([A-Za-z_]\w*)/g;

/** Renames identifiers outside strings, comments and member accesses (`a.b`, `p->b`); the rest stays byte for byte. */
function renameIdentifiers(text: string, renames: ReadonlyMap<string, string>): string {
  return text.replace(TOKEN_RE, (whole, member: string | undefined, space: string | undefined, id: string | undefined) => {
    if (!id || member) return whole;
    const to = renames.get(id);
    return to ? `${space ?? ''}${to}` : whole;
  });
}

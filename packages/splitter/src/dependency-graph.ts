import { identifiersIn } from './c-identifiers.js';
import type { Item, SourceUnit } from './items.js';
import type { LivepatchModel } from './livepatch-model.js';
import type { SyntaxNode } from './parse.js';
import { attachedSubject, isParamCall, type Role } from './roles.js';

/** Which top-level items each item uses, by the names it mentions. */
export class DependencyGraph {
  private readonly deps = new Map<Item, Item[]>();
  /** Items that stay in the main module whoever uses them: the patch, module parameters. */
  readonly forcedMain = new Set<Item>();

  constructor(
    readonly unit: SourceUnit,
    readonly model: LivepatchModel,
    readonly roles: Map<Item, Role>,
  ) {
    for (const item of unit.items) {
      if (isParamCall(item)) {
        const subject = this.subjectOf(item);
        if (subject) this.forcedMain.add(subject);
      }
    }
    this.forcedMain.add(model.patchItem);
  }

  subjectOf(item: Item): Item | undefined {
    const name = attachedSubject(item);
    return name ? this.unit.byName.get(name)?.find((i) => i !== item && this.roles.get(i) !== 'attached') : undefined;
  }

  /** The names an item's code mentions (for the patch: only the fields the split keeps). */
  usesOf(item: Item): Set<string> {
    return item === this.model.patchItem ? namesIn(this.model.patchFields.map((f) => f.value)) : item.uses;
  }

  depsOf(item: Item): Item[] {
    let list = this.deps.get(item);
    if (!list) {
      list = this.resolve(this.usesOf(item), item);
      this.deps.set(item, list);
    }
    return list;
  }

  resolve(names: Iterable<string>, self?: Item): Item[] {
    const out: Item[] = [];
    for (const name of names) {
      for (const def of this.unit.byName.get(name) ?? []) {
        if (def === self || def === this.model.objsItem || def === this.model.initItem || def === this.model.exitItem) continue;
        // `static struct klp_patch patch;` declares the patch for code above it: a part that uses
        // it needs that (exported) declaration, not the patch's objects and states.
        if (def === this.model.patchItem && (this.unit.byName.get(name)?.length ?? 0) > 1) continue;
        const role = this.roles.get(def);
        if (role === 'attached' || role === 'modinfo' || role === 'everywhere' || role === 'reloc-list') continue;
        out.push(def);
      }
    }
    return out;
  }
}

function namesIn(nodes: SyntaxNode[]): Set<string> {
  const out = new Set<string>();
  for (const n of nodes) for (const id of identifiersIn(n)) out.add(id);
  return out;
}

import { firstUse } from './c-identifiers.js';
import type { DependencyGraph } from './dependency-graph.js';
import type { Item } from './item.js';
import { localNames } from './shadowing.js';
import type { SymbolObjects } from './symbol-objects.js';

/** One use of a module's symbol, where the code names it. */
export interface ModuleUse {
  object: string;
  symbol: string;
  pos: { line: number; col: number };
  /** How the symbol's object is known. */
  how: string;
}

/** A symbol whose object the splitter cannot tell, used by some code. */
export interface UnknownUse {
  symbol: string;
  pos: { line: number; col: number };
  /** The objects it is in, when several are. */
  objects?: string[];
}

/**
 * The module objects each item's code touches (spec: "code lives with the
 * object whose symbols it touches"): the symbols it names that belong to a
 * module the patch fixes (through an annotation, the module's symbols or
 * its exports), and, through the items it uses, theirs. vmlinux's symbols
 * bind nothing: every part may use them.
 */
export class ObjectBinding {
  private readonly direct = new Map<Item, ModuleUse[]>();
  private readonly unknown = new Map<Item, UnknownUse[]>();
  private readonly objects = new Map<Item, Set<string>>();

  constructor(
    private readonly graph: DependencyGraph,
    private readonly symbols: SymbolObjects,
  ) {
    for (const item of graph.unit.items) {
      const d = this.directUses(graph.usesOf(item), item);
      this.direct.set(item, d.modules);
      this.unknown.set(item, d.unknown);
    }
    this.propagate();
  }

  /** Modules the item's code touches, itself or through what it uses. */
  objectsOf(item: Item): ReadonlySet<string> {
    return this.objects.get(item) ?? new Set();
  }

  /** Modules a piece of code (a statement of init or exit) touches: its own symbols and the items it uses. */
  objectsOfCode(names: Set<string>, at: { text: string; start: number }): { objects: Set<string>; uses: ModuleUse[]; unknown: UnknownUse[] } {
    const d = this.directUses(names, undefined, at);
    const objects = new Set(d.modules.map((u) => u.object));
    for (const dep of this.graph.resolve(names)) for (const o of this.objectsOf(dep)) objects.add(o);
    return { objects, uses: d.modules, unknown: d.unknown };
  }

  /** The modules' symbols the item's own code names. */
  directModuleUses(item: Item): readonly ModuleUse[] {
    return this.direct.get(item) ?? [];
  }

  /** Symbols of unknown object the item's own code uses. */
  unknownUses(item: Item): UnknownUse[] {
    return this.unknown.get(item) ?? [];
  }

  /**
   * How `names` (in code at `at`) reach `object`, for a message:
   * `'helper' (line 12) -> 'driver_name' of 'mod' (line 8)`.
   */
  chain(names: Set<string>, object: string, at: { text: string; start: number }): string {
    const own = this.directUses(names, undefined, at).modules.find((u) => u.object === object);
    if (own) return useText(own);
    const seen = new Set<Item>();
    const walk = (item: Item): string | undefined => {
      if (seen.has(item) || !this.objectsOf(item).has(object)) return undefined;
      seen.add(item);
      const here = `'${item.defines[0] ?? item.text.split('\n')[0]}' (line ${item.pos.line})`;
      const use = this.direct.get(item)!.find((u) => u.object === object);
      if (use) return `${here} -> ${useText(use)}`;
      for (const dep of this.graph.depsOf(item)) {
        const rest = walk(dep);
        if (rest) return `${here} -> ${rest}`;
      }
      return undefined;
    };
    for (const dep of this.graph.resolve(names)) {
      const c = walk(dep);
      if (c) return c;
    }
    return `'${object}'`;
  }

  private directUses(names: Iterable<string>, item: Item | undefined, at?: { text: string; start: number }): { modules: ModuleUse[]; unknown: UnknownUse[] } {
    const modules: ModuleUse[] = [];
    const unknown: UnknownUse[] = [];
    const unit = this.graph.unit;
    let locals: Set<string> | undefined;
    for (const name of names) {
      const defs = unit.byName.get(name) ?? [];
      // Defined here: its own code is bound on its own (a prototype only declares).
      if (defs.some((d) => d.kind !== 'prototype')) continue;
      const declared = defs.length > 0;
      const owner = this.symbols.ownerOf(name, declared);
      if (!owner) {
        if (declared && this.symbols.modules.length) unknown.push({ symbol: name, pos: this.position(name, item, at) });
        continue;
      }
      if (owner.kind === 'vmlinux') continue;
      // Not declared here: a local of the function that happens to share the name is no use of the symbol.
      if (!declared && item?.kind === 'function') {
        locals ??= localNames(item.node);
        if (locals.has(name)) continue;
      }
      if (owner.kind === 'unknown') unknown.push({ symbol: name, pos: this.position(name, item, at) });
      else if (owner.kind === 'ambiguous') unknown.push({ symbol: name, pos: this.position(name, item, at), objects: owner.objects });
      else modules.push({ object: owner.object, symbol: name, pos: this.position(name, item, at), how: owner.how });
    }
    return { modules, unknown };
  }

  private position(name: string, item: Item | undefined, at?: { text: string; start: number }): { line: number; col: number } {
    const unit = this.graph.unit;
    const where = at ?? (item ? { text: unit.source.slice(item.node.startIndex, item.end), start: item.node.startIndex } : undefined);
    if (!where) return { line: 0, col: 0 };
    const i = firstUse(where.text, name);
    return unit.positionAt(where.start + Math.max(i, 0));
  }

  /** objects(item) = its own modules and those of the items it uses, to a fixed point (uses may be cyclic). */
  private propagate(): void {
    const items = this.graph.unit.items;
    const users = new Map<Item, Item[]>();
    for (const item of items) {
      this.objects.set(item, new Set(this.direct.get(item)!.map((u) => u.object)));
      for (const dep of this.graph.depsOf(item)) users.set(dep, [...(users.get(dep) ?? []), item]);
    }
    const work = items.filter((i) => this.objects.get(i)!.size > 0);
    while (work.length) {
      const item = work.pop()!;
      const mine = this.objects.get(item)!;
      for (const user of users.get(item) ?? []) {
        const theirs = this.objects.get(user)!;
        const before = theirs.size;
        for (const o of mine) theirs.add(o);
        if (theirs.size !== before) work.push(user);
      }
    }
  }
}

function useText(u: ModuleUse): string {
  return `'${u.symbol}' of '${u.object}' (line ${u.pos.line})`;
}

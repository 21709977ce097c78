import type { DependencyGraph } from './dependency-graph.js';
import type { Item } from './item.js';
import type { ObjectBinding } from './object-binding.js';
import type { PartPlan } from './plan.js';

/** Which parts need each item, and the single-instance items the main module keeps for several parts. */
export interface Placement {
  needers: Map<Item, Set<PartPlan>>;
  shared: Set<Item>;
  /** Items no part's code reaches: each stays with the one module it touches, else in the main module. */
  unused: Set<Item>;
}

/** Where each part's code starts: names its object's entry, its init and exit work use. */
export type PartRoots = Map<PartPlan, Set<string>>;

/**
 * Needs of every part from its roots (spec §3 "What moves where"): a part
 * needs what its code uses, transitively; the main module also keeps the
 * patch, module parameters, and every single-instance item two parts need
 * (exported). Iterated until the set of shared items is stable.
 */
export function place(graph: DependencyGraph, binding: ObjectBinding, parts: PartPlan[], main: PartPlan, roots: PartRoots): Placement {
  const byObject = new Map(parts.filter((p) => p !== main).map((p) => [p.object, p]));
  let shared = new Set<Item>();
  for (;;) {
    const needers = new Map<Item, Set<PartPlan>>();
    const unused = new Set<Item>();
    const sharedFromOthers: Item[] = [];
    // Depth first with a stack of its own, in the order recursion would take: a chain of thousands of functions is no stack overflow.
    const visit = (root: Item, part: PartPlan): void => {
      const stack = [root];
      for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
        let set = needers.get(item);
        if (!set) needers.set(item, (set = new Set()));
        if (set.has(part)) continue;
        set.add(part);
        let deps = graph.depsOf(item);
        if (shared.has(item) && part !== main) {
          sharedFromOthers.push(item);
          deps = deps.filter((dep) => graph.roles.get(dep) === 'decl');
        }
        for (let i = deps.length - 1; i >= 0; i--) stack.push(deps[i]!);
      }
    };
    for (const part of parts) if (part !== main) for (const item of graph.resolve(roots.get(part) ?? [])) visit(item, part);
    const mainRoots = [graph.model.patchItem, ...graph.resolve(roots.get(main) ?? []), ...graph.forcedMain, ...sharedFromOthers];
    for (const item of mainRoots) visit(item, main);
    for (const item of graph.unit.items) {
      const role = graph.roles.get(item)!;
      if ((role !== 'copy' && role !== 'single' && role !== 'decl') || needers.get(item)?.size) continue;
      unused.add(item);
      const objects = [...binding.objectsOf(item)];
      visit(item, (objects.length === 1 && byObject.get(objects[0]!)) || main);
    }
    const next = new Set<Item>();
    for (const [item, set] of needers) {
      if (graph.roles.get(item) !== 'single') continue;
      const others = [...set].some((p) => p !== main);
      if (others && (set.size > 1 || graph.forcedMain.has(item))) next.add(item);
    }
    if (next.size === shared.size && [...next].every((i) => shared.has(i))) return { needers, shared, unused };
    shared = next;
  }
}

/** Where some code of a part starts, for the placement check. */
export interface Root {
  part: PartPlan;
  /** What it is, for the message: "vmlinux's replacement function 'f'". */
  what: string;
  pos: { line: number; col: number };
  names: Set<string>;
  at: { text: string; start: number };
}

/** A placement the kernel would refuse: code of one part that uses a symbol of another module. */
export interface PlacementProblem {
  pos: { line: number; col: number };
  code: 'main-touches-module' | 'part-touches-other-module';
  message: string;
}

/**
 * The split design's rule, checked at every root of every part: code lives
 * with the object whose symbols it touches. The main module is loaded
 * before any module it fixes and stays while they come and go, so it can
 * never relocate against one; a per-object module relocates only against
 * its own target (and vmlinux). The split kernel refuses anything else
 * ("only the per-object module '<patch>__<obj>' may relocate against
 * '<obj>'"), or the load fails whenever the module is absent.
 */
export function placementProblems(patch: string, binding: ObjectBinding, roots: Root[]): PlacementProblem[] {
  const out: PlacementProblem[] = [];
  for (const r of roots) {
    const { objects } = binding.objectsOfCode(r.names, r.at);
    for (const object of objects) {
      if (object === r.part.object) continue;
      const chain = binding.chain(r.names, object, r.at);
      const rule = `only the per-object module '${patch}__${object}' may relocate against '${object}'`;
      if (r.part.object === 'vmlinux') {
        out.push({
          pos: r.pos,
          code: 'main-touches-module',
          message: `${r.what} is in the main module and uses ${chain}: ${rule} (the main module loads before '${object}' and stays while it comes and goes); reach '${object}' only from code of its klp_object (its klp_func replacements, callbacks, or init work after klp_enable_patch(), which moves into '${patch}__${object}')`,
        });
      } else {
        out.push({
          pos: r.pos,
          code: 'part-touches-other-module',
          message: `${r.what} is in '${r.part.module}' and uses ${chain}: ${rule}; a per-object module relocates only against its own target '${r.part.object}' and vmlinux, so keep the work for '${object}' in code of '${object}''s klp_object`,
        });
      }
    }
  }
  return out;
}

/** An item as a root of the check. */
export function itemRoot(graph: DependencyGraph, part: PartPlan, item: Item, what: string): Root {
  const unit = graph.unit;
  return { part, what, pos: item.pos, names: new Set([...graph.usesOf(item), ...(item.defines[0] ? [item.defines[0]] : [])]), at: { text: unit.source.slice(item.node.startIndex, item.end), start: item.node.startIndex } };
}

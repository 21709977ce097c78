import type { DiagnosticSink } from '@klp-split/core';
import { ExportNames } from './export-names.js';
import { warnObjModReads } from './obj-mod.js';
import { identifiersIn, type Item, type SourceUnit } from './items.js';
import type { KlpObjectEntry, LivepatchModel } from './livepatch-model.js';
import { kbuildModuleName, perObjectFileBase, perObjectModuleName } from '@klp-split/core';
import { pruneIncludes, type IncludeFilter } from './include-filter.js';
import type { SyntaxNode } from './parse.js';
import { attachedSubject, isParamCall, roleOf, type Role } from './roles.js';

/** A statement of the original module_exit, with the comments above it. */
export interface ExitStatement {
  node: SyntaxNode;
  start: number;
  uses: Set<string>;
}

export interface PartPlan {
  /** 'vmlinux' or the target module's name. */
  object: string;
  module: string;
  fileBase: string;
  entry: KlpObjectEntry | undefined;
  items: Item[];
  exitStatements: ExitStatement[];
  usesHeader: boolean;
}

export interface SplitPlan {
  patch: string;
  fileBase: string;
  main: PartPlan;
  objects: PartPlan[];
  /** Items of the shared header, in source order. */
  header: Item[];
  /** Items that stay in the main module and are exported for the other parts. */
  exported: Item[];
  roles: Map<Item, Role>;
  /** The shared header's file name (`<fileBase>.h` unless the sources have a header of that name). */
  headerFile: string;
  /** Names of the exports, prefixed with the patch so two versions of it can be loaded together. */
  exportNames: ExportNames;
}

/**
 * Assigns every top-level item to the parts that need it ("What moves where",
 * spec §3): each part gets the closure of its object's functions and
 * callbacks; what several parts need is shared through the header or, when it
 * must exist once, exported by the main module.
 */
export function planSplit(unit: SourceUnit, model: LivepatchModel, fileBase: string, sink: DiagnosticSink, includes?: IncludeFilter, headerFile = `${fileBase}.h`): SplitPlan {
  const patch = kbuildModuleName(fileBase);
  const vmlinux = model.objects.find((o) => o.name === null);
  const main = newPart('vmlinux', patch, fileBase, vmlinux);
  const objects = model.objects
    .filter((o) => o.name !== null)
    .map((o) => newPart(o.name!, perObjectModuleName(patch, o.name!), perObjectFileBase(fileBase, o.name!), o));
  const parts = [...objects, main];
  warnObjModReads(unit, model, sink);
  const roles = new Map(unit.items.map((i) => [i, roleOf(i, model)]));
  const graph = new DependencyGraph(unit, model, roles);
  const statements = exitStatements(model);

  let placement = graph.place(parts, main, new Map());
  const extraRoots = new Map<PartPlan, Set<string>>();
  for (const st of statements) {
    const owner = statementOwner(st, placement, objects, graph, sink) ?? main;
    owner.exitStatements.push(st);
    extraRoots.set(owner, new Set([...(extraRoots.get(owner) ?? []), ...st.uses]));
  }
  if (extraRoots.size) placement = graph.place(parts, main, extraRoots);

  const header: Item[] = [];
  for (const item of unit.items) {
    const role = roles.get(item)!;
    const needers = placement.needers.get(item) ?? new Set<PartPlan>();
    if (role === 'decl' && needers.size >= 2) {
      header.push(item);
      for (const p of needers) p.usesHeader = true;
      continue;
    }
    for (const part of partsOf(item, role, needers, placement, graph, parts, main)) part.items.push(item);
  }
  const exported = [...placement.shared].sort((a, b) => a.index - b.index);
  const exportNames = new ExportNames(unit, patch, exported);
  for (const item of placement.shared) {
    header.push(item);
    for (const p of placement.needers.get(item) ?? []) p.usesHeader = true;
    warnShared(item, [...placement.needers.get(item)!].filter((p) => p !== main), exportNames, sink);
  }
  header.sort((a, b) => a.index - b.index);
  if (header.length) main.usesHeader = true;
  if (includes) pruneIncludes(objects, header, includes, unit.byName);
  return { patch, fileBase, main, objects, header, exported, roles, exportNames, headerFile };
}

function newPart(object: string, module: string, fileBase: string, entry: KlpObjectEntry | undefined): PartPlan {
  return { object, module, fileBase, entry, items: [], exitStatements: [], usesHeader: false };
}

/** The parts an item is written into (in the order of `parts`, so each part's items keep source order). */
function partsOf(
  item: Item,
  role: Role,
  needers: Set<PartPlan>,
  placement: Placement,
  graph: DependencyGraph,
  parts: PartPlan[],
  main: PartPlan,
): Iterable<PartPlan> {
  switch (role) {
    case 'special':
      return [];
    case 'everywhere':
      return parts;
    case 'modinfo':
      return [main];
    case 'attached': {
      const subject = graph.subjectOf(item);
      if (!subject) return [main];
      const subjectRole = graph.roles.get(subject)!;
      return partsOf(subject, subjectRole, placement.needers.get(subject) ?? new Set(), placement, graph, parts, main);
    }
    case 'decl':
    case 'copy':
      return needers;
    case 'single':
      return placement.shared.has(item) ? [main] : needers;
  }
}

interface Placement {
  needers: Map<Item, Set<PartPlan>>;
  shared: Set<Item>;
}

class DependencyGraph {
  private readonly deps = new Map<Item, Item[]>();
  private readonly forcedMain = new Set<Item>();

  constructor(
    private readonly unit: SourceUnit,
    private readonly model: LivepatchModel,
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

  depsOf(item: Item): Item[] {
    let list = this.deps.get(item);
    if (!list) {
      const uses = item === this.model.patchItem ? namesIn(this.model.patchFields.map((f) => f.value)) : item.uses;
      list = this.resolve(uses, item);
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
        if (role === 'attached' || role === 'modinfo' || role === 'everywhere') continue;
        out.push(def);
      }
    }
    return out;
  }

  /** Needs of every part, iterated until the set of shared single-instance items is stable. */
  place(parts: PartPlan[], main: PartPlan, extraRoots: Map<PartPlan, Set<string>>): Placement {
    let shared = new Set<Item>();
    for (;;) {
      const needers = new Map<Item, Set<PartPlan>>();
      const sharedFromOthers: Item[] = [];
      const visit = (item: Item, part: PartPlan): void => {
        let set = needers.get(item);
        if (!set) needers.set(item, (set = new Set()));
        if (set.has(part)) return;
        set.add(part);
        if (shared.has(item) && part !== main) {
          sharedFromOthers.push(item);
          for (const dep of this.depsOf(item)) if (this.roles.get(dep) === 'decl') visit(dep, part);
          return;
        }
        for (const dep of this.depsOf(item)) visit(dep, part);
      };
      for (const part of parts) {
        if (part === main) continue;
        for (const item of this.resolve([...(part.entry?.roots ?? []), ...(extraRoots.get(part) ?? [])])) visit(item, part);
      }
      const mainRoots = [
        this.model.patchItem,
        ...this.resolve([...(main.entry?.roots ?? []), ...(extraRoots.get(main) ?? [])]),
        ...(this.model.initItem ? this.resolve(this.model.initItem.uses) : []),
        ...this.forcedMain,
        ...sharedFromOthers,
      ];
      for (const item of mainRoots) visit(item, main);
      for (const item of this.unit.items) {
        const role = this.roles.get(item)!;
        if ((role === 'copy' || role === 'single' || role === 'decl') && !needers.get(item)?.size) visit(item, main);
      }
      const next = new Set<Item>();
      for (const [item, set] of needers) {
        if (this.roles.get(item) !== 'single') continue;
        const others = [...set].some((p) => p !== main);
        if (others && (set.size > 1 || this.forcedMain.has(item))) next.add(item);
      }
      if (next.size === shared.size && [...next].every((i) => shared.has(i))) return { needers, shared };
      shared = next;
    }
  }
}

function namesIn(nodes: SyntaxNode[]): Set<string> {
  const out = new Set<string>();
  for (const n of nodes) for (const id of identifiersIn(n)) out.add(id);
  return out;
}

function exitStatements(model: LivepatchModel): ExitStatement[] {
  const body = model.exitItem?.node.childForFieldName('body');
  if (!body) return [];
  const out: ExitStatement[] = [];
  let pendingStart: number | undefined;
  for (const child of body.namedChildren) {
    if (child.type === 'comment') {
      pendingStart ??= child.startIndex;
      continue;
    }
    out.push({ node: child, start: pendingStart ?? child.startIndex, uses: identifiersIn(child) });
    pendingStart = undefined;
  }
  return out;
}

/**
 * The per-object part an exit statement belongs to: the one whose code or
 * data it uses or, failing that, whose own macros and types it uses
 * (`klp_shadow_free_all(SV_ID, dtor)` goes with the shadow variable's user).
 */
function statementOwner(st: ExitStatement, placement: Placement, objects: PartPlan[], graph: DependencyGraph, sink: DiagnosticSink): PartPlan | undefined {
  const defs = graph.resolve(st.uses).filter((d) => !placement.shared.has(d));
  const ownersOf = (roles: Role[]): Set<PartPlan> => {
    const owners = new Set<PartPlan>();
    for (const def of defs) {
      if (!roles.includes(graph.roles.get(def)!)) continue;
      const needers = [...(placement.needers.get(def) ?? [])];
      if (roles.includes('decl') && needers.length !== 1) continue;
      for (const p of needers) if (objects.includes(p)) owners.add(p);
    }
    return owners;
  };
  let owners = ownersOf(['copy', 'single']);
  if (owners.size === 0) owners = ownersOf(['decl']);
  if (owners.size > 1) {
    const pos = { line: st.node.startPosition.row + 1, col: st.node.startPosition.column + 1 };
    sink.warning(pos, 'exit-statement-shared', `module_exit statement uses items of ${[...owners].map((o) => `'${o.object}'`).join(' and ')}; it stays in the main module`);
    return undefined;
  }
  return [...owners][0];
}

function warnShared(item: Item, users: PartPlan[], exportNames: ExportNames, sink: DiagnosticSink): void {
  if (item.kind !== 'variable') return;
  const names = users.map((p) => `'${p.module}'`).sort().join(', ');
  const name = item.defines[0]!;
  const as = exportNames.name(name) === name ? '' : ` as '${exportNames.name(name)}'`;
  sink.warning(
    item.pos,
    'shared-mutable-state',
    `'${name}' is mutable state used by ${names}; it stays in the main module and is exported${as}, so every part shares one instance`,
  );
}

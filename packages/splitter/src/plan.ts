import { bodyStatements, type BodyStatement } from './body-statements.js';
import { DependencyGraph } from './dependency-graph.js';
import { ExportNames } from './export-names.js';
import { planInit, type InitPlan, type MovedInit } from './init-split.js';
import { warnObjModReads } from './obj-mod.js';
import type { Item, SourceUnit } from './items.js';
import type { KlpObjectEntry, LivepatchModel } from './livepatch-model.js';
import { kbuildModuleName, perObjectFileBase, perObjectModuleName, type DiagnosticSink, type SymbolFacts } from '@klp-split/core';
import { pruneIncludes, type IncludeFilter } from './include-filter.js';
import { ObjectBinding } from './object-binding.js';
import { itemRoot, place, placementProblems, type Placement, type Root } from './placement.js';
import { readRelocAnnotations, type RelocAnnotations } from './reloc-annotations.js';
import { roleOf, type Role } from './roles.js';
import { SymbolObjects } from './symbol-objects.js';

/** A statement of the original module_exit, with the comments above it. */
export type ExitStatement = BodyStatement;

export interface PartPlan {
  /** 'vmlinux' or the target module's name. */
  object: string;
  module: string;
  fileBase: string;
  entry: KlpObjectEntry | undefined;
  items: Item[];
  exitStatements: ExitStatement[];
  /** A per-object part: the module init's work for its object (init-split.ts). */
  initWork?: MovedInit;
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
  /** The main module's init statements when work moved out of it into per-object inits. */
  mainInit?: BodyStatement[];
  /** The relocation annotations of the source. */
  annotations: RelocAnnotations;
}

/**
 * Assigns every top-level item to the parts that need it ("What moves where",
 * spec §3): each part gets the closure of its object's functions and
 * callbacks, code that touches a module goes with that module and the init
 * work for it into its init (docs/split-design.md §8); what several parts
 * need is shared through the header or, when it must exist once, exported by
 * the main module. What breaks the placement rule is refused at its line.
 */
export function planSplit(unit: SourceUnit, model: LivepatchModel, fileBase: string, sink: DiagnosticSink, includes?: IncludeFilter, headerFile = `${fileBase}.h`, facts?: SymbolFacts): SplitPlan {
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
  const annotations = readRelocAnnotations(unit);
  const modules = objects.map((p) => p.object);
  const binding = new ObjectBinding(graph, new SymbolObjects(annotations, modules, facts));
  checkModulesPatched(unit, binding, modules, sink);

  const init = planInit(unit, model, binding, sink);
  for (const part of objects) part.initWork = init.moved.get(part.object);
  const roots = new Map<PartPlan, Set<string>>(parts.map((p) => [p, new Set(p.entry?.roots ?? [])]));
  for (const n of init.keptUses) roots.get(main)!.add(n);
  for (const part of objects) for (const n of part.initWork?.uses ?? []) roots.get(part)!.add(n);
  let placement = place(graph, binding, parts, main, roots);
  for (const st of bodyStatements(model.exitItem)) {
    const found = statementOwner(unit, st, placement, objects, graph, binding, sink);
    if (found === null) continue;
    const owner = found ?? main;
    owner.exitStatements.push(st);
    for (const n of st.uses) roots.get(owner)!.add(n);
  }
  placement = place(graph, binding, parts, main, roots);
  for (const p of placementProblems(patch, binding, checkRoots(unit, model, graph, placement, parts, main, init))) sink.error(p.pos, p.code, p.message);
  warnUnknownObjects(binding, placement, modules, sink);

  const header: Item[] = [];
  for (const item of unit.items) {
    const role = roles.get(item)!;
    const needers = placement.needers.get(item) ?? new Set<PartPlan>();
    if (role === 'decl' && needers.size >= 2) {
      header.push(item);
      for (const p of needers) p.usesHeader = true;
      continue;
    }
    for (const part of partsOf(item, role, needers, placement, graph, parts, main, annotations)) part.items.push(item);
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
  return { patch, fileBase, main, objects, header, exported, roles, exportNames, headerFile, annotations, ...(init.moved.size ? { mainInit: init.kept } : {}) };
}

/**
 * Where each part's code starts, for the placement check: the main
 * module's patch, its vmlinux replacements and callbacks, module
 * parameters, the init and exit work it keeps, the items it keeps for
 * several parts and those no code uses; a per-object module's replacements,
 * callbacks, and the init and exit work moved there.
 */
function checkRoots(unit: SourceUnit, model: LivepatchModel, graph: DependencyGraph, placement: Placement, parts: PartPlan[], main: PartPlan, init: InitPlan): Root[] {
  const roots: Root[] = [];
  const statementRoot = (part: PartPlan, st: BodyStatement, what: string): Root => ({ part, what, pos: unit.positionAt(st.node.startIndex), names: st.uses, at: { text: unit.source.slice(st.node.startIndex, st.node.endIndex), start: st.node.startIndex } });
  for (const part of parts) {
    const objectName = part === main ? 'vmlinux' : `'${part.object}'`;
    const entry = part.entry;
    const listed = new Set<Item>();
    for (const f of entry?.funcs ?? []) {
      const fn = unit.byName.get(f.newFunc)?.find((i) => i.kind === 'function');
      if (fn && !listed.has(fn)) roots.push(itemRoot(graph, part, fn, `${objectName}'s replacement '${f.newFunc}' for '${f.oldName}'`));
      if (fn) listed.add(fn);
    }
    for (const cb of entry?.callbacks ?? []) {
      const fn = unit.byName.get(cb.func)?.find((i) => i.kind === 'function');
      if (fn && !listed.has(fn)) roots.push(itemRoot(graph, part, fn, `${objectName}'s ${cb.kind} callback '${cb.func}'`));
      if (fn) listed.add(fn);
    }
    for (const st of part.exitStatements) roots.push(statementRoot(part, st, `a statement of module_exit function '${model.exitItem?.defines[0]}'`));
    for (const st of [...(part.initWork?.before ?? []), ...(part.initWork?.after ?? [])]) roots.push(statementRoot(part, st, `init work moved into '${part.module}'`));
  }
  for (const st of init.kept) if (!init.refused.has(st)) roots.push(statementRoot(main, st, `a statement of module_init function '${model.initItem?.defines[0]}'`));
  for (const item of graph.forcedMain) if (item !== model.patchItem) roots.push(itemRoot(graph, main, item, `module parameter '${item.defines[0]}'`));
  for (const item of placement.shared) {
    const users = [...(placement.needers.get(item) ?? [])].filter((p) => p !== main).map((p) => `'${p.module}'`).join(', ');
    roots.push(itemRoot(graph, main, item, `'${item.defines[0]}' (one instance, used by ${users})`));
  }
  for (const item of placement.unused) {
    if (!placement.needers.get(item)?.has(main) || graph.roles.get(item) === 'decl') continue;
    roots.push(itemRoot(graph, main, item, `'${item.defines[0]}', which no part's code uses and so stays in the main module,`));
  }
  return roots;
}

/** A symbol of a module the livepatch does not patch: no per-object module can carry the code that uses it. */
function checkModulesPatched(unit: SourceUnit, binding: ObjectBinding, modules: string[], sink: DiagnosticSink): void {
  const seen = new Set<string>();
  for (const item of unit.items) {
    for (const use of binding.directModuleUses(item)) {
      if (modules.includes(use.object) || seen.has(use.symbol)) continue;
      seen.add(use.symbol);
      sink.error(use.pos, 'module-not-patched', `'${use.symbol}' is in module '${use.object}' (${use.how}), which this livepatch has no klp_object for: only a per-object module '<patch>__${use.object}' could use it; add a klp_object for '${use.object}' or do without its symbols`);
    }
  }
}

/** Symbols whose object nothing says, in code the main module keeps: the build, which has the facts, checks them. */
function warnUnknownObjects(binding: ObjectBinding, placement: Placement, modules: string[], sink: DiagnosticSink): void {
  if (!modules.length) return;
  const seen = new Set<string>();
  for (const [item, parts] of placement.needers) {
    for (const u of binding.unknownUses(item)) {
      if (seen.has(u.symbol)) continue;
      seen.add(u.symbol);
      if (u.objects) {
        sink.warning(u.pos, 'symbol-in-several-objects', `'${u.symbol}' is in ${u.objects.map((o) => `'${o}'`).join(' and ')}: each part's build takes the one of its own object (vmlinux in the main module); say which is meant with KLP_RELOC_SYMBOL(<lp_obj>, <obj>, ${u.symbol})`);
      } else if ([...parts].some((p) => p.object === 'vmlinux')) {
        sink.warning(u.pos, 'symbol-object-unknown', `cannot tell whether '${u.symbol}' is in vmlinux or in ${modules.map((m) => `'${m}'`).join(', ')} (no symbols of them given): if it is a module's, the main module cannot use it; give the targets' .ko (--target) and a kallsyms dump, or annotate it with KLP_RELOC_SYMBOL; 'klp-split build' checks it`);
      }
    }
  }
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
  annotations: RelocAnnotations,
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
      return partsOf(subject, subjectRole, placement.needers.get(subject) ?? new Set(), placement, graph, parts, main, annotations);
    }
    case 'decl':
    case 'copy':
      return needers;
    case 'single':
      return placement.shared.has(item) ? [main] : needers;
    case 'reloc-list':
      return relocListParts(item, placement, graph, parts, main, annotations);
  }
}

/**
 * A KLP_MODULE_RELOC array goes to every part whose code uses one of the
 * symbols it lists (each needs their positions); unused, to its object's
 * part, else the main module.
 */
function relocListParts(item: Item, placement: Placement, graph: DependencyGraph, parts: PartPlan[], main: PartPlan, annotations: RelocAnnotations): PartPlan[] {
  const list = annotations.moduleRelocs.find((m) => m.item === item);
  const users = new Set<PartPlan>();
  for (const decl of graph.resolve(list?.names ?? [])) for (const p of placement.needers.get(decl) ?? []) users.add(p);
  if (users.size) return parts.filter((p) => users.has(p));
  return [parts.find((p) => p !== main && p.object === list?.object) ?? main];
}

/**
 * The per-object part an exit statement belongs to: the one whose code or
 * data it uses or, failing that, whose own macros and types it uses
 * (`klp_shadow_free_all(SV_ID, dtor)` goes with the shadow variable's
 * user); null when it touches a module's symbols, which is refused.
 */
function statementOwner(unit: SourceUnit, st: ExitStatement, placement: Placement, objects: PartPlan[], graph: DependencyGraph, binding: ObjectBinding, sink: DiagnosticSink): PartPlan | undefined | null {
  const pos = unit.positionAt(st.node.startIndex);
  const touched = [...binding.objectsOfCode(st.uses, { text: unit.source.slice(st.node.startIndex, st.node.endIndex), start: st.node.startIndex }).objects];
  if (touched.length) {
    // A per-object module is removed after its target's exit, asynchronously: by then the target may be freed.
    const o = touched[0]!;
    const chain = binding.chain(st.uses, o, { text: unit.source.slice(st.node.startIndex, st.node.endIndex), start: st.node.startIndex });
    sink.error(pos, 'exit-touches-module', `this module_exit statement uses ${chain}: in the split it would run in '${objects.find((p) => p.object === o)?.module ?? o}''s exit, which also runs when '${o}' is removed, after '${o}' is freed; undo work for '${o}' in a post_unpatch callback of its klp_object, which runs while '${o}' is still there`);
    return null;
  }
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

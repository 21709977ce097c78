import { elementLine } from './initializer.js';
import type { Cond, Item, SourceUnit } from './items.js';
import { initializerOf, type KlpObjectEntry, type LivepatchModel } from './livepatch-model.js';
import type { ExitStatement, PartPlan, SplitPlan } from './plan.js';
import { perObjectFileBase } from '@klp-split/core';
import { compositeOf, prologueOf, type PartFiles, type Prologue, type UnitFiles } from './composite-parts.js';

export type { PartFiles, UnitFiles } from './composite-parts.js';
import { perObjectInitText, prunedInitText } from './init-split.js';
import { renderEntries, type Entry, type RenderedOrigin } from './render.js';
import { COPIED_MODINFO, isExportCall } from './roles.js';

/** Emits the split sources: byte-for-byte original items plus the split API glue (spec §3). */
interface EmittedFiles {
  /** File name (relative to the output directory) to content, in a stable order. */
  files: Map<string, string>;
  /** File name to the original line of each of its lines (index 0 is line 1). */
  maps: Map<string, (RenderedOrigin | undefined)[]>;
  objName: string;
  /** The file (or files, a kbuild composite) of each part. */
  partFiles: Map<PartPlan, PartFiles>;
}

/** A file's text from a fixed prefix (header comment, guard) and its entries, with its line map. */
function mapped(prefix: string, entries: Entry[], prefixFromSource: boolean, suffix = ''): { text: string; map: (RenderedOrigin | undefined)[] } {
  const body: (RenderedOrigin | undefined)[] = [];
  const text = prefix + renderEntries(entries, body) + suffix;
  const prefixLines = (prefix.match(/\n/g) ?? []).length;
  const map: (RenderedOrigin | undefined)[] = [];
  for (let i = 0; i < prefixLines; i++) map.push(prefixFromSource ? { line: i + 1, exact: true } : undefined);
  body.forEach((o, i) => (map[prefixLines + i] = o));
  return { text, map };
}

export function emitSplit(unit: SourceUnit, model: LivepatchModel, plan: SplitPlan, originals?: UnitFiles): EmittedFiles {
  const names = new GeneratedNames(unit);
  const files = new Map<string, string>();
  const maps = new Map<string, (RenderedOrigin | undefined)[]>();
  const partFiles = new Map<PartPlan, PartFiles>();
  const add = (name: string, out: { text: string; map: (RenderedOrigin | undefined)[] }): void => {
    files.set(name, out.text);
    maps.set(name, out.map);
  };
  const modinfo = unit.items.filter((i) => i.kind === 'call' && COPIED_MODINFO.has(i.call!.name)).map((i) => unit.source.slice(i.node.startIndex, i.end));
  const mainComposite = originals && compositeOf(unit, model, plan, plan.main, originals, originals.mainInPlace ?? false);
  if (mainComposite) {
    const last = mainComposite.files[mainComposite.files.length - 1]!;
    for (const k of mainComposite.files) {
      const trailer = k === last && k === originals.bases.length - 1 ? unit.trailer : '';
      add(`${originals.bases[k]}.c`, emitMain(unit, model, plan, names, (i) => mainComposite.itemIn(i, k), prologueOf(unit, originals, k), trailer, (i) => mainComposite.textIn(i, k)));
    }
    partFiles.set(plan.main, { file: `${originals.bases[mainComposite.glue]}.c`, files: mainComposite.files.map((k) => `${originals.bases[k]}.c`) });
  } else {
    add(`${plan.fileBase}.c`, emitMain(unit, model, plan, names, () => true, { text: unit.header, fromSource: true }, unit.trailer));
    partFiles.set(plan.main, { file: `${plan.fileBase}.c` });
  }
  if (plan.header.length) add(plan.headerFile, emitHeader(unit, plan));
  for (const part of plan.objects) {
    const composite = originals && compositeOf(unit, model, plan, part, originals, false);
    if (!composite) {
      add(`${part.fileBase}.c`, emitPerObject(unit, plan, part, names, modinfo, part.items, true, { text: unit.header, fromSource: true }));
      partFiles.set(part, { file: `${part.fileBase}.c` });
      continue;
    }
    const nameOf = (k: number): string => `${perObjectFileBase(originals.bases[k]!, part.object)}.c`;
    for (const k of composite.files) {
      add(nameOf(k), emitPerObject(unit, plan, part, names, modinfo, part.items.filter((i) => composite.itemIn(i, k)), k === composite.glue, prologueOf(unit, originals, k), (i) => composite.textIn(i, k)));
    }
    partFiles.set(part, { file: nameOf(composite.glue), files: composite.files.map(nameOf) });
  }
  return { files, maps, objName: names.obj, partFiles };
}

/** Names of generated definitions, chosen so they cannot clash with the file's own. */
class GeneratedNames {
  readonly obj: string;
  readonly objNames: string;
  readonly vmlinuxFuncs: string;
  constructor(unit: SourceUnit) {
    const free = (...candidates: string[]): string => candidates.find((c) => !unit.byName.has(c)) ?? `${candidates[0]}_klp_split`;
    this.obj = free('obj', 'klp_obj', 'split_obj');
    this.objNames = free('obj_names', 'klp_obj_names');
    this.vmlinuxFuncs = free('vmlinux_funcs', 'klp_vmlinux_funcs');
  }
}

/** An item's entry, with the split's export names applied (byte for byte otherwise). */
function entry(unit: SourceUnit, plan: SplitPlan, item: Item, text = item.text, gap = item.gap): Entry {
  return { text: plan.exportNames.itemText(item, text), gap, conds: item.conds, preambles: item.preambles, origin: originOf(unit, item, true) };
}

/**
 * The blank lines after each item of a file: as in the original before the
 * next item when that item follows; otherwise a blank line when the original
 * has one anywhere between them (the end of an include block whose last
 * include stayed behind).
 */
function spacing(unit: SourceUnit, items: readonly Item[]): Map<Item, string> {
  const gaps = new Map<Item, string>();
  items.forEach((item, i) => {
    const next = items[i + 1];
    // Includes stay together (in a module of several files, those of one file come from several places of the unit).
    if (!next || next.index === item.index + 1 || (item.kind === 'include' && next.kind === 'include')) gaps.set(item, item.gap);
    else gaps.set(item, unit.items.slice(item.index, next.index).some((i) => i.gap === '\n\n') ? '\n\n' : '\n');
  });
  return gaps;
}

/** The item's first original line (its leading comments included) and how many lines it spans. */
function originOf(unit: SourceUnit, item: Item, exact: boolean): Entry['origin'] {
  const line = unit.positionAt(item.start).line;
  return { line, lines: unit.positionAt(item.end).line - line + 1, exact };
}

function leading(unit: SourceUnit, item: Item): string {
  return unit.source.slice(item.start, item.node.startIndex);
}

function headerInclude(plan: SplitPlan): Entry {
  return { text: `#include "${plan.headerFile}"`, gap: '\n\n', conds: [] };
}

function emitMain(unit: SourceUnit, model: LivepatchModel, plan: SplitPlan, names: GeneratedNames, keep: (item: Item) => boolean, prologue: Prologue, trailer: string, textOf: (item: Item) => string = (i) => i.text): { text: string; map: (RenderedOrigin | undefined)[] } {
  const main = plan.main;
  const placed = new Set(main.items.filter(keep));
  const exported = new Set(plan.exported);
  const alreadyExported = new Set(unit.items.filter(isExportCall).map((i) => i.call!.args[0]?.text));
  const lastInclude = headerAnchor([...placed], plan.header);
  // Without `MODULE_INFO(livepatch, "Y")` the kernel refuses to enable the patch: the file with the patch gets
  // it, after its MODULE_LICENSE (split.ts warns at that line).
  const addModinfo = !hasLivepatchModinfo(unit) && keep(model.patchItem);
  const license = unit.items.find((i) => i.kind === 'call' && i.call!.name === 'MODULE_LICENSE' && keep(i));
  const entries: Entry[] = [];
  if (lastInclude === null && main.usesHeader) entries.push(headerInclude(plan));
  const inFile = unit.items.filter((item) => (plan.roles.get(item) === 'special' ? keep(item) : placed.has(item)));
  const gaps = spacing(unit, inFile);
  for (const item of inFile) {
    const gap = gaps.get(item)!;
    const rename = (text: string, exact = false): Entry => ({ text: plan.exportNames.code(text), gap, conds: item.conds, preambles: item.preambles, origin: originOf(unit, item, exact) });
    if (item === model.objsItem) entries.push(rename(leading(unit, item) + vmlinuxObjectText(plan, names)));
    else if (item === model.patchItem) entries.push(rename(leading(unit, item) + patchText(unit, model, names, plan.exported.some((e) => e.defines[0] === item.defines[0]))));
    else if (item === model.exitItem) entries.push(rename(prunedExit(unit, item, main.exitStatements)));
    else if (item === model.initItem && plan.mainInit) entries.push(rename(prunedInitText(unit, item, plan.mainInit)));
    else if (exported.has(item)) entries.push(rename(exportedText(unit, item, alreadyExported), true));
    else entries.push(entry(unit, plan, item, textOf(item), gap));
    if (item === lastInclude && main.usesHeader) entries.push(headerInclude(plan));
    if (item === license && addModinfo) entries.push({ text: LIVEPATCH_MODINFO, gap: item.gap, conds: item.conds });
  }
  if (addModinfo && !license) entries.push({ text: LIVEPATCH_MODINFO, gap: '\n', conds: [] });
  // The file's closing comments stay at the end of the file that keeps its identity: the main one.
  return mapped(prologue.text, entries, prologue.fromSource, trailer);
}

const LIVEPATCH_MODINFO = 'MODULE_INFO(livepatch, "Y");';

/** Does the source mark its module as a livepatch (`MODULE_INFO(livepatch, "Y")`)? */
export function hasLivepatchModinfo(unit: SourceUnit): boolean {
  return unit.items.some((i) => i.kind === 'call' && i.call!.name === 'MODULE_INFO' && i.call!.args[0]?.text === 'livepatch');
}

/** A per-object file: `items` of the part, and the glue (klp_object, init, exit) when `withGlue`. */
function emitPerObject(unit: SourceUnit, plan: SplitPlan, part: PartPlan, names: GeneratedNames, modinfo: string[], items: Item[], withGlue: boolean, prologue: Prologue, textOf: (item: Item) => string = (i) => i.text): { text: string; map: (RenderedOrigin | undefined)[] } {
  const lastInclude = headerAnchor(items, plan.header);
  // An object under `#if` in the klp_object array: everything of its module but the includes and
  // the module's license is under that condition, so the module is empty where the object is not.
  const under = objectCondition(part);
  // An item under the same `#ifdef` as its object is under it once.
  const merges = (c: Cond[]): boolean => !!under && c[0]?.open.trim() === under.open && c[0].branch === 'then';
  const conds = (c: Cond[]): Cond[] => (!under ? c : merges(c) ? [under, ...c.slice(1)] : [under, ...c]);
  const entries: Entry[] = [];
  if (lastInclude === null && part.usesHeader) entries.push(headerInclude(plan));
  const gaps = spacing(unit, items);
  for (const item of items) {
    const e = entry(unit, plan, item, textOf(item), gaps.get(item));
    // Under the object's condition the item's blocks are one level deeper (unless the first one is that condition).
    const preambles = under && !merges(e.conds) ? e.preambles?.map((p) => ({ ...p, level: p.level + 1 })) : e.preambles;
    entries.push(item.kind === 'include' ? e : { ...e, conds: conds(e.conds), preambles });
    if (item === lastInclude && part.usesHeader) entries.push(headerInclude(plan));
  }
  if (!withGlue) return mapped(prologue.text, entries, prologue.fromSource);
  const glue = [
    plan.exportNames.code(objectText(part.entry!, `"${plan.patch}"`, `"${part.object}"`, names.obj)),
    plan.exportNames.code(perObjectInitText(unit, `${part.module}_init`, names.obj, part.initWork)),
    `static void ${part.module}_exit(void)\n{\n${plan.exportNames.code(statementsText(unit, part.exitStatements))}}`,
    [`module_init(${part.module}_init);`, `module_exit(${part.module}_exit);`].join('\n'),
  ];
  // The glue stands for the object's entry in the original klp_object array.
  const objectLine = part.entry?.pos.line;
  glue.forEach((text, i) => entries.push({ text, gap: i === glue.length - 1 ? '\n' : '\n\n', conds: conds([]), ...(i === 0 && objectLine ? { origin: { line: objectLine, lines: 1, exact: false } } : {}) }));
  entries.push({ text: ['MODULE_LICENSE("GPL");', LIVEPATCH_MODINFO, ...modinfo].join('\n'), gap: '\n\n', conds: [] });
  return mapped(prologue.text, entries, prologue.fromSource);
}

/** The condition of an object under `#if` in the klp_object array, as a conditional the renderer reopens. */
function objectCondition(part: PartPlan): Cond | undefined {
  const c = part.entry?.condition;
  if (!c) return undefined;
  const open = directiveOf(c);
  return { open, directives: [open], endif: '#endif', blankAfter: false, branch: 'then', at: -1 };
}

/** The directive that opens a condition, as a maintainer writes it (`#ifdef X` for `defined(X)`). */
function directiveOf(condition: string): string {
  const m = /^(!?)defined\(([A-Za-z_][A-Za-z0-9_]*)\)$/.exec(condition);
  return m ? `#if${m[1] ? 'n' : ''}def ${m[2]}` : `#if ${condition}`;
}

function emitHeader(unit: SourceUnit, plan: SplitPlan): { text: string; map: (RenderedOrigin | undefined)[] } {
  const guard = `_${plan.headerFile.replace(/[^A-Za-z0-9]/g, '_').toUpperCase()}`;
  const exported = new Set(plan.exported);
  const gaps = spacing(unit, plan.header);
  const entries: Entry[] = plan.header.map((item) => ({
    text: exported.has(item) ? plan.exportNames.code(externDeclaration(unit, item)) : plan.exportNames.itemText(item, item.text),
    gap: gaps.get(item)!,
    conds: item.conds,
    preambles: item.preambles,
    origin: originOf(unit, item, !exported.has(item)),
  }));
  const spdx = headerSpdx(unit.header);
  return mapped(`${spdx}#ifndef ${guard}\n#define ${guard}\n\n`, entries, false, `\n#endif /* ${guard} */\n`);
}

/** Headers take the SPDX tag in a block comment. */
function headerSpdx(fileHeader: string): string {
  const m = /^\/\/\s*(SPDX-License-Identifier:.*)$/m.exec(fileHeader) ?? /^\/\*\s*(SPDX-License-Identifier:.*?)\s*\*\/$/m.exec(fileHeader);
  return m ? `/* ${m[1]!.trim()} */\n` : '';
}

/**
 * The include after which a part includes the shared header: the last
 * unconditional one before the header's first item in the original (what
 * that item could rely on), or null for the file's start.
 */
function headerAnchor(items: readonly Item[], header: readonly Item[]): Item | null {
  const first = header.length ? Math.min(...header.map((i) => i.index)) : Infinity;
  let anchor: Item | null = null;
  for (const item of items) if (item.kind === 'include' && item.conds.length === 0 && item.index < first) anchor = item;
  return anchor;
}

function vmlinuxObjectText(plan: SplitPlan, names: GeneratedNames): string {
  const vmlinux = plan.main.entry;
  let text = '';
  const extra: string[] = [];
  if (!vmlinux?.fields.some((f) => f.field === 'funcs')) {
    text += `static struct klp_func ${names.vmlinuxFuncs}[] = {\n\t{ }\n};\n\n`;
    extra.push(`\t.funcs = ${names.vmlinuxFuncs},`);
  }
  text += objectText(vmlinux ?? emptyEntry(), 'KBUILD_MODNAME', 'NULL', names.obj, extra);
  const objNames = plan.objects.map((p) => (p.entry?.condition ? `${directiveOf(p.entry.condition)}\n\t"${p.object}",\n#endif\n` : `\t"${p.object}",\n`)).join('');
  text += `\n\nstatic char *${names.objNames}[] = {\n${objNames}\tNULL\n};`;
  return text;
}

function emptyEntry(): KlpObjectEntry {
  return { name: null, pos: { line: 0, col: 0 }, fields: [], funcArrays: [], funcs: [], callbacks: [], roots: new Set() };
}

const OBJECT_GLUE_FIELDS = new Set(['name', 'patch_name', 'mod']);

function objectText(entry: KlpObjectEntry, patchName: string, name: string, varName: string, extra: string[] = []): string {
  const nameLine = entry.nameField ? elementLine(entry.nameField, '\t', `.name = ${name}`) : `\t.name = ${name},`;
  const lines = [`\t.patch_name = ${patchName},`, nameLine, '\t.mod = THIS_MODULE,', ...extra];
  for (const f of entry.fields) {
    if (f.field && OBJECT_GLUE_FIELDS.has(f.field)) continue;
    lines.push(f.designated ? elementLine(f, '\t') : `\t.${f.field} = ${f.value.text},`);
  }
  return `static struct klp_object ${varName} = {\n${lines.join('\n')}\n};`;
}

function patchText(unit: SourceUnit, model: LivepatchModel, names: GeneratedNames, exported: boolean): string {
  const node = model.patchItem.node;
  const init = initializerOf(model.patchItem)!;
  const lines = [`\t.obj = &${names.obj},`, `\t.obj_names = ${names.objNames},`];
  for (const f of model.patchFields) lines.push(f.designated ? elementLine(f, '\t') : `\t.${f.field} = ${f.value.text},`);
  // Exported through its forward declaration: the definition must have external linkage too.
  const head = unit.source.slice(node.startIndex, init.startIndex);
  return `${exported ? head.replace(/\bstatic\s+/, '') : head}{\n${lines.join('\n')}\n}${unit.source.slice(init.endIndex, model.patchItem.end)}`;
}

function statementsText(unit: SourceUnit, statements: ExitStatement[]): string {
  return statements
    .map((st) => {
      // Leading comments start on their own line; one on the line before ends the statement before (as below).
      let from = st.start;
      let lineStart = unit.source.lastIndexOf('\n', from - 1) + 1;
      if (unit.source.slice(lineStart, from).trim()) {
        const next = unit.source.indexOf('\n', from) + 1;
        from = next > 0 && next <= st.node.startIndex ? next : st.node.startIndex;
        lineStart = unit.source.lastIndexOf('\n', from - 1) + 1;
      }
      // A comment after the statement on its line goes with it.
      const lineEnd = unit.source.indexOf('\n', st.node.endIndex);
      const rest = unit.source.slice(st.node.endIndex, lineEnd < 0 ? undefined : lineEnd);
      const end = /^[ \t]*(?:\/\*(?:(?!\*\/).)*\*\/|\/\/.*)?[ \t]*$/.test(rest) ? st.node.endIndex + rest.trimEnd().length : st.node.endIndex;
      return `${unit.source.slice(lineStart, end)}\n`;
    })
    .join('');
}

/** The original module_exit without the statements that moved to per-object modules; as it was when none did. */
function prunedExit(unit: SourceUnit, item: Item, kept: ExitStatement[]): string {
  const body = item.node.childForFieldName('body')!;
  const statements = body.namedChildren.filter((c) => c.type !== 'comment');
  if (kept.length === statements.length) return unit.source.slice(item.start, item.end);
  // Comments after the last statement close the function: they stay with it.
  const last = statements[statements.length - 1];
  const afterLast = last ? unit.source.indexOf('\n', last.endIndex) + 1 : body.startIndex + 1;
  const closing = afterLast > 0 && afterLast < body.endIndex - 1 ? unit.source.slice(afterLast, body.endIndex - 1).replace(/[ \t]*$/, '') : '';
  return `${unit.source.slice(item.start, body.startIndex)}{\n${statementsText(unit, kept)}${closing}}${unit.source.slice(body.endIndex, item.end)}`;
}

/** Drops `static` from a definition's specifiers (not from anything after its name). */
function withoutStatic(unit: SourceUnit, item: Item, end: number): string {
  return unit.source.slice(item.node.startIndex, end).replace(/\bstatic\s+/, '');
}

function declaratorEnd(item: Item): number {
  const d = item.node.childrenForFieldName('declarator')[0] ?? item.node.childForFieldName('declarator');
  if (!d) return item.node.endIndex;
  const inner = d.type === 'init_declarator' ? d.childForFieldName('declarator') ?? d : d;
  return inner.endIndex;
}

function exportedText(unit: SourceUnit, item: Item, alreadyExported: Set<string | undefined>): string {
  const name = item.defines[0]!;
  const text = leading(unit, item) + withoutStatic(unit, item, item.end);
  return alreadyExported.has(name) ? text : `${text}\nEXPORT_SYMBOL_GPL(${name});`;
}

function externDeclaration(unit: SourceUnit, item: Item): string {
  // A per-CPU variable is declared by its own macro, of the same section (`DECLARE_PER_CPU_READ_MOSTLY(type, name);`).
  const perCpu = /^(?:static\s+)?DEFINE_(PER_CPU\w*\([^;]*\))/.exec(unit.source.slice(item.node.startIndex, item.end));
  if (perCpu) return `DECLARE_${perCpu[1]!};`;
  const decl = withoutStatic(unit, item, declaratorEnd(item));
  return item.kind === 'function' ? `${decl};` : `extern ${decl};`;
}

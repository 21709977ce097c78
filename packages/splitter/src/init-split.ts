import { bodyStatements, type BodyStatement } from './body-statements.js';
import { declaredName } from './declarators.js';
import type { DiagnosticSink } from '@klp-split/core';
import type { Item, SourceUnit } from './items.js';
import type { LivepatchModel } from './livepatch-model.js';
import type { ObjectBinding } from './object-binding.js';

/**
 * Work the module init does for one module object moves into that object's
 * per-object init: the main module is loaded before the object and stays
 * while it comes and goes, so it cannot reach the object's symbols, while
 * the per-object init runs exactly when the object is there (spec §4:
 * klp_add_object()). Statements before klp_enable_patch() run before
 * klp_add_object(), statements after it after, as kernel developers split
 * such tests by hand. What cannot move keeping its meaning is refused at
 * its line.
 */
export interface InitPlan {
  /** The statements the main module's init keeps. */
  kept: BodyStatement[];
  /** The names they use (the main module's roots). */
  keptUses: Set<string>;
  /** Per module object, the work moved into its per-object init. */
  moved: Map<string, MovedInit>;
  /** Statements refused at their line (already reported). */
  refused: Set<BodyStatement>;
}

export interface MovedInit {
  /** Declarations of the locals the moved statements use. */
  locals: BodyStatement[];
  /** Statements that ran before klp_enable_patch(): before klp_add_object(). */
  before: BodyStatement[];
  /** Statements that ran after it: after klp_add_object() succeeded. */
  after: BodyStatement[];
  /** Every name the moved statements and their locals use (the part's roots). */
  uses: Set<string>;
}

const ENABLE = 'klp_enable_patch';

export function planInit(unit: SourceUnit, model: LivepatchModel, binding: ObjectBinding, sink: DiagnosticSink): InitPlan {
  const statements = bodyStatements(model.initItem);
  const all = new Set(statements.flatMap((s) => [...s.uses]));
  const plan: InitPlan = { kept: statements, keptUses: all, moved: new Map(), refused: new Set() };
  if (!model.initItem) return plan;
  const enable = statements.findIndex((s) => s.uses.has(ENABLE));
  const locals = new Map<string, BodyStatement>();
  for (const s of statements) if (s.node.type === 'declaration') for (const d of s.node.childrenForFieldName('declarator')) locals.set(declaredName(d) ?? '', s);
  const pos = (s: BodyStatement) => unit.positionAt(s.node.startIndex);
  const init = `module_init function '${model.initItem.defines[0]}'`;

  const target = new Map<BodyStatement, string>();
  statements.forEach((s, i) => {
    const { objects } = binding.objectsOfCode(s.uses, textAt(unit, s));
    if (objects.size === 0) return;
    const chain = (o: string) => binding.chain(s.uses, o, textAt(unit, s));
    const refuse = (code: string, message: string): void => {
      plan.refused.add(s);
      sink.error(pos(s), code, message);
    };
    if (objects.size > 1) {
      const [a, b] = [...objects];
      refuse('init-touches-several-modules', `this statement of the ${init} uses ${chain(a!)} and ${chain(b!)}: work for two modules cannot move into one per-object init; split it into one statement per module`);
      return;
    }
    const object = [...objects][0]!;
    if (i === enable || enable < 0) {
      const why = i === enable ? 'it also enables the patch' : `the init does not call ${ENABLE}() itself`;
      refuse('init-touches-module', `this statement of the ${init} uses ${chain(object)}, but ${why}, so it cannot move into '${object}''s per-object init; call ${ENABLE}() in the init and do the work for '${object}' in its own statement`);
      return;
    }
    if (i > enable && /\b(?:return|goto)\b/.test(s.node.text)) {
      refuse('init-work-returns', `this statement of the ${init} uses ${chain(object)} and may leave the init (return or goto): in '${object}''s per-object init it would run after klp_add_object() linked the object, and a failing init there would leave a freed module linked; do that work before ${ENABLE}() or without leaving the init`);
      return;
    }
    target.set(s, object);
  });
  if (target.size === 0) return plan;

  // Each local stays with the code that uses it: the main init, or one per-object init.
  const ownersOf = new Map<BodyStatement, Set<string>>();
  for (const s of statements) {
    const owner = target.get(s) ?? 'main';
    if (s.node.type === 'declaration' && !target.has(s)) continue;
    for (const n of s.uses) {
      const decl = locals.get(n);
      if (!decl || decl === s) continue;
      const set = ownersOf.get(decl) ?? new Set<string>();
      set.add(owner);
      ownersOf.set(decl, set);
      if (set.size === 2 && !plan.refused.has(decl)) {
        plan.refused.add(decl);
        const mover = statements.find((x) => target.has(x) && x.uses.has(n))!;
        plan.refused.add(mover);
        const parts = [...set].map((w) => (w === 'main' ? 'the main module' : `'${w}'`)).join(' and ');
        sink.error(pos(mover), 'init-local-shared', `local '${n}' of the ${init} is used by work of ${parts}: the split puts that work in different modules' inits, which cannot share a local; give the work for '${target.get(mover)}' a variable of its own`);
      }
    }
  }
  for (const [decl, set] of ownersOf) if (target.has(decl)) set.add(target.get(decl)!);
  if (sink.failed) return plan;

  const kept: BodyStatement[] = [];
  statements.forEach((s, i) => {
    const owners = ownersOf.get(s);
    const object = target.get(s) ?? (owners?.size === 1 && !owners.has('main') ? [...owners][0] : undefined);
    if (!object) {
      kept.push(s);
      return;
    }
    const m = plan.moved.get(object) ?? { locals: [], before: [], after: [], uses: new Set<string>() };
    plan.moved.set(object, m);
    if (s.node.type === 'declaration') m.locals.push(s);
    else (i < enable ? m.before : m.after).push(s);
    for (const n of s.uses) m.uses.add(n);
  });
  return { ...plan, kept, keptUses: new Set(kept.flatMap((s) => [...s.uses])) };
}

function textAt(unit: SourceUnit, s: BodyStatement): { text: string; start: number } {
  return { text: unit.source.slice(s.node.startIndex, s.node.endIndex), start: s.node.startIndex };
}

/** Statements as the original wrote them, each from its line's start, a blank line kept where the original had one. */
export function statementsText(unit: SourceUnit, statements: BodyStatement[]): string {
  let out = '';
  statements.forEach((st, i) => {
    const lineStart = unit.source.lastIndexOf('\n', st.start - 1) + 1;
    const prev = statements[i - 1];
    if (prev && /\n[ \t]*\n/.test(unit.source.slice(prev.node.endIndex, lineStart))) out += '\n';
    out += `${unit.source.slice(lineStart, st.node.endIndex)}\n`;
  });
  return out;
}

/** The main module's init with the moved work taken out. */
export function prunedInitText(unit: SourceUnit, item: Item, kept: BodyStatement[]): string {
  const body = item.node.childForFieldName('body')!;
  return `${unit.source.slice(item.start, body.startIndex)}{\n${statementsText(unit, kept)}}${unit.source.slice(body.endIndex, item.end)}`;
}

/** A per-object module's init: klp_add_object(), with the init work moved there around it. */
export function perObjectInitText(unit: SourceUnit, fnName: string, objVar: string, moved: MovedInit | undefined): string {
  const add = `klp_add_object(&${objVar})`;
  if (!moved) return `static int ${fnName}(void)\n{\n\treturn ${add};\n}`;
  const decls = statementsText(unit, moved.locals);
  const before = statementsText(unit, moved.before);
  if (!moved.after.length) return `static int ${fnName}(void)\n{\n${decls}${decls ? '\n' : ''}${before}\treturn ${add};\n}`;
  const taken = new Set(moved.locals.flatMap((s) => s.node.childrenForFieldName('declarator').map((d) => declaredName(d))));
  const ret = ['ret', 'err', 'klp_ret'].find((n) => !taken.has(n) && !unit.byName.has(n)) ?? 'klp_split_ret';
  return [
    `static int ${fnName}(void)\n{\n${decls}\tint ${ret};\n\n${before}${before ? '\n' : ''}`,
    `\t${ret} = ${add};\n\tif (${ret})\n\t\treturn ${ret};\n\n`,
    `${statementsText(unit, moved.after)}\n\treturn 0;\n}`,
  ].join('');
}

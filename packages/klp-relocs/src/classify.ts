import { elfConstants as C, VMLINUX, type ElfFile } from '@klp-split/kernel-facts';
import type { Annotation } from './annotations.js';
import type { ObjectSymbolTable } from './symbol-table.js';
import type { SymbolProblem } from './sympos.js';

/** What the module is: a per-object part of a split (one target), or a classic livepatch (several objects). */
export type PatchRole = { kind: 'part'; target: string } | { kind: 'classic'; objects: readonly string[] };

/** The facts classification needs about the kernel and the targets. */
export interface RelocFacts {
  /** vmlinux's exports (Module.symvers lines of module 'vmlinux'). */
  vmlinuxExports: ReadonlySet<string>;
  /** symbol -> module name, for exports of modules (other Module.symvers files, the target .ko files). */
  moduleExports: ReadonlyMap<string, string>;
  /** Per object, its symbols in kallsyms order; an object without one is checked later by verify. */
  tables: SymbolTables;
  /** The modules whose tables the facts hold (the targets given). */
  targetModules?: readonly string[];
}

/** Symbol tables by object, possibly read only when first asked for (a kallsyms dump is 100,000 lines). */
interface SymbolTables {
  get(object: string): ObjectSymbolTable | undefined;
  has(object: string): boolean;
}

export type Classification =
  | { kind: 'normal'; symIndex: number; name: string; reason: string }
  | {
      kind: 'livepatch';
      symIndex: number;
      /** The name the loader sees now (an annotation's assembler name, or the C name). */
      name: string;
      /** The symbol in its object. */
      symbol: string;
      object: string;
      /** The object whose `.klp.rela` section carries the relocations. */
      lpObject: string;
      annotation?: Annotation;
      /** The module that exports it, when it is a target's export (its __versions entry and depends go). */
      exportedBy?: string;
      reason: string;
    }
  | { kind: 'problem'; symIndex: number; name: string; problem: SymbolProblem; annotation?: Annotation };

export function patchObjects(role: PatchRole): readonly string[] {
  return role.kind === 'part' ? [role.target] : role.objects;
}

/**
 * Decides, for every undefined symbol, whether the loader resolves it (an
 * export it can find) or the livepatch core must (everything else, and in
 * a per-object part every symbol of its own target: depending on the
 * target's exports would make modprobe load the target again while it is
 * COMING, spec §4; likewise a classic livepatch's targets' exports, since it
 * may load before them).
 */
export function classify(elf: ElfFile, facts: RelocFacts, role: PatchRole, annotations: readonly Annotation[]): Classification[] {
  const bySym = new Map(annotations.map((a) => [a.symIndex, a]));
  const objects = patchObjects(role);
  const out: Classification[] = [];
  const problem = (symIndex: number, name: string, code: string, message: string, annotation?: Annotation): void => {
    out.push({ kind: 'problem', symIndex, name, problem: { severity: 'error', code, message }, annotation });
  };
  for (const s of elf.symbols) {
    if (s.index === 0 || s.shndx !== C.SHN_UNDEF || !s.name || s.bind === C.STB_WEAK) continue;
    const a = bySym.get(s.index);
    if (a) {
      if (role.kind === 'part') {
        // In a split part the author's lp_obj (where a classic livepatch puts the relocation) gives way to the
        // split's own rule: vmlinux's symbols in vmlinux's sections, its own target's in the target's.
        if (a.symObject !== VMLINUX && a.symObject !== role.target) {
          problem(s.index, s.name, placementCode(role), placementMessage(role, a.symbol, a.symObject, `${a.form} names '${a.symObject}'`), a);
          continue;
        }
        out.push({ kind: 'livepatch', symIndex: s.index, name: s.name, symbol: a.symbol, object: a.symObject, lpObject: a.symObject, annotation: a, reason: `annotated with ${a.form}` });
        continue;
      }
      const lpObject = a.lpObject ?? a.symObject;
      if (!objects.includes(lpObject)) {
        problem(s.index, s.name, 'klp-annotation-object', `${a.form} names '${lpObject}' for '${a.symbol}', an object this patch does not fix (it fixes ${objects.map((o) => `'${o}'`).join(', ') || 'no object'})`, a);
        continue;
      }
      if (a.symObject !== VMLINUX && !objects.includes(a.symObject) && !facts.tables.has(a.symObject)) {
        problem(s.index, s.name, 'klp-annotation-unknown-object', unknownObjectMessage(a, objects), a);
        continue;
      }
      out.push({ kind: 'livepatch', symIndex: s.index, name: s.name, symbol: a.symbol, object: a.symObject, lpObject, annotation: a, reason: `annotated with ${a.form}` });
      continue;
    }
    if (facts.vmlinuxExports.has(s.name)) {
      out.push({ kind: 'normal', symIndex: s.index, name: s.name, reason: 'exported by vmlinux' });
      continue;
    }
    const owner = facts.moduleExports.get(s.name);
    if (owner !== undefined) {
      // A patch's own target: a per-object part would deadlock on it (spec §4); a classic livepatch may load
      // before it (upstream's klp-build converts these too).
      if (objects.includes(owner)) {
        out.push({ kind: 'livepatch', symIndex: s.index, name: s.name, symbol: s.name, object: owner, lpObject: owner, exportedBy: owner, reason: `exported by its own target '${owner}'` });
      } else {
        out.push({ kind: 'normal', symIndex: s.index, name: s.name, reason: `exported by module '${owner}'` });
      }
      continue;
    }
    if (role.kind === 'part') {
      out.push(partSymbol(s.index, s.name, role.target, facts) ?? { kind: 'livepatch', symIndex: s.index, name: s.name, symbol: s.name, object: role.target, lpObject: role.target, reason: 'not exported' });
      continue;
    }
    // Classic: the object that has it, which must be unique among the patch's objects.
    const known = objects.filter((o) => facts.tables.has(o));
    const found = known.filter((o) => facts.tables.get(o)!.holds(s.name));
    const unknown = objects.filter((o) => !facts.tables.has(o));
    if (found.length === 1) {
      out.push({ kind: 'livepatch', symIndex: s.index, name: s.name, symbol: s.name, object: found[0]!, lpObject: found[0]!, reason: 'not exported' });
    } else if (found.length > 1) {
      problem(s.index, s.name, 'klp-symbol-ambiguous-object', `'${s.name}' is in ${found.map((o) => `'${o}'`).join(' and ')}; say which with KLP_RELOC_SYMBOL(<lp_obj>, <obj>, ${s.name})`);
    } else if (unknown.length === 1) {
      // The one object we cannot look into: verify checks it against that object later.
      out.push({ kind: 'livepatch', symIndex: s.index, name: s.name, symbol: s.name, object: unknown[0]!, lpObject: unknown[0]!, reason: 'not exported, not in the other objects' });
    } else {
      const searched = known.map((o) => `'${o}' (${facts.tables.get(o)!.source})`).join(', ');
      const missing = unknown.length ? `; no symbols known for ${unknown.map((o) => `'${o}'`).join(', ')}` : '';
      problem(s.index, s.name, 'klp-symbol-not-found', `'${s.name}' is in no object: not exported by vmlinux or a known module, not in ${searched || 'any object'}${missing}`);
    }
  }
  return out;
}

/**
 * An annotation's symbol object that is neither vmlinux, an object of the
 * patch nor a module given to the build: nothing tells that a module of
 * that name exists, and the livepatch core would look the symbol up there
 * when the module loads and fail.
 */
function unknownObjectMessage(a: Annotation, objects: readonly string[]): string {
  const dotted = a.form === 'KLP_RELOC_SYMBOL' && a.symbol.includes('.') ? ` (an object name cannot contain '.': the rest of it was read as part of the symbol)` : '';
  const fixes = objects.map((o) => `'${o}'`).join(', ') || 'no object';
  return `${a.form} names object '${a.symObject}' for '${a.symbol}', which is neither vmlinux, an object this patch fixes (${fixes}) nor a module given with --target: the kernel would not find it${dotted}`;
}

/**
 * An unexported symbol of a split part that is not its own target's: one
 * of vmlinux (a `.klp.rela.vmlinux` relocation in any part), or one of
 * another module, which the part may not reach (the placement rule).
 * Undefined: the target's, as far as the facts tell.
 */
function partSymbol(symIndex: number, name: string, target: string, facts: RelocFacts): Classification | undefined {
  const has = (o: string): boolean => !!facts.tables.get(o)?.holds(name);
  if (target !== VMLINUX && (!facts.tables.has(target) || has(target))) return undefined;
  if (has(VMLINUX) || (target === VMLINUX && !facts.tables.has(VMLINUX))) {
    return { kind: 'livepatch', symIndex, name, symbol: name, object: VMLINUX, lpObject: VMLINUX, reason: target === VMLINUX ? 'not exported' : 'not exported, in vmlinux' };
  }
  const other = (facts.targetModules ?? []).find((m) => m !== target && has(m));
  if (!other) return undefined;
  const role = { kind: 'part' as const, target };
  return { kind: 'problem', symIndex, name, problem: { severity: 'error', code: placementCode(role), message: placementMessage(role, name, other, `'${other}' has it`) } };
}

function placementCode(role: Extract<PatchRole, { kind: 'part' }>): string {
  return role.target === VMLINUX ? 'klp-main-relocates-module' : 'klp-part-relocates-other-module';
}

/** The split kernel's refusal (klp_apply_section_relocs()), with what to change. */
function placementMessage(role: Extract<PatchRole, { kind: 'part' }>, symbol: string, object: string, how: string): string {
  const rule = `only the per-object module '<patch>__${object}' may relocate against '${object}'`;
  return role.target === VMLINUX
    ? `'${symbol}' is in module '${object}' (${how}) and the main module uses it: ${rule}; move the code that uses it into code of '${object}''s klp_object (klp-split split places it there when it knows the symbol's object: annotate it, or give --target)`
    : `'${symbol}' is in module '${object}' (${how}) and the per-object module of '${role.target}' uses it: ${rule}; keep the work for '${object}' in code of '${object}''s klp_object`;
}

export { VMLINUX };

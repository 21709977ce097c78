import type { SymbolFacts } from '@klp-split/core';
import type { RelocAnnotations } from './reloc-annotations.js';

/** Where a symbol is, as far as the splitter can tell. */
export type SymbolOwner =
  /** In this object for sure (an annotation, or the only object that has it). */
  | { kind: 'object'; object: string; how: string }
  /** In vmlinux, or exported by vmlinux: no constraint on where the code goes. */
  | { kind: 'vmlinux' }
  /** In several objects: only an annotation can say which is meant. */
  | { kind: 'ambiguous'; objects: string[] }
  /** No facts about it: the build, which knows, checks it. */
  | { kind: 'unknown' };

/**
 * The owner of a symbol the livepatch declares or uses without defining:
 * an annotation says it; else the one object (vmlinux or a module) whose
 * symbols hold it; else, when vmlinux's symbols are known and lack it, the
 * one module object nothing is known about.
 */
export class SymbolObjects {
  constructor(
    private readonly annotations: RelocAnnotations,
    /** The modules the livepatch patches (its klp_object names). */
    readonly modules: readonly string[],
    private readonly facts?: SymbolFacts,
  ) {}

  /** `declared`: the livepatch declares the name itself (an extern or a prototype), so it is a symbol. */
  ownerOf(name: string, declared: boolean): SymbolOwner | undefined {
    const a = this.annotations.symbols.get(name);
    if (a) return a.object === 'vmlinux' ? { kind: 'vmlinux' } : { kind: 'object', object: a.object, how: `${a.form} names '${a.object}'` };
    const facts = this.facts;
    if (!facts || facts.isVmlinuxExport(name)) return facts ? { kind: 'vmlinux' } : undefined;
    const all = [...new Set(facts.modulesWith(name))];
    // A module the patch does not fix counts only where nothing else has the name.
    const patched = all.filter((m) => this.modules.includes(m));
    const modules = patched.length ? patched : all;
    // A name the livepatch neither declares nor finds in a module is a macro, a keyword or a local.
    if (!declared && !modules.length) return undefined;
    const vmlinux = facts.inVmlinux(name);
    if (vmlinux && !patched.length) return { kind: 'vmlinux' };
    const found = [...(vmlinux ? ['vmlinux'] : []), ...modules];
    if (found.length === 1) return found[0] === 'vmlinux' ? { kind: 'vmlinux' } : { kind: 'object', object: found[0]!, how: `'${found[0]}' has it` };
    if (found.length > 1) return { kind: 'ambiguous', objects: found };
    if (!declared || vmlinux === undefined) return undefined;
    const unknown = this.modules.filter((m) => !facts.knows(m));
    if (unknown.length === 1) return { kind: 'object', object: unknown[0]!, how: `vmlinux has no symbol of that name and '${unknown[0]}' is the one object whose symbols were not given` };
    return undefined;
  }
}

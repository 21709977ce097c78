import type { SplitManifest } from '@klp-split/core';
import { firstUse } from './c-identifiers.js';
import { readUnit, type SourceUnit } from './items.js';
import { readRelocAnnotations } from './reloc-annotations.js';
import { isModuleRelocList } from './roles.js';
import type { SymbolFacts } from '@klp-split/core';
import { SymbolObjects } from './symbol-objects.js';

/** Code of one part that uses a symbol of a module other than the part's own object. */
export interface PlacementViolation {
  /** The split file and the use's position in it. */
  file: string;
  line: number;
  col: number;
  /** The module carrying the code ('<patch>' for the main module). */
  module: string;
  /** The part's object ('vmlinux' for the main module). */
  object: string;
  symbol: string;
  /** The module the symbol belongs to. */
  symbolObject: string;
  message: string;
}

/**
 * The split design's placement rule, checked on a split's output on its own
 * (independently of how the splitter placed things): every function and
 * variable of a part uses symbols of vmlinux, of its own object, or of the
 * split itself only. Symbols are attributed to objects by the parts'
 * relocation annotations and, when given, the kernel's and the targets'
 * symbols. `files` are the split's output files (SplitResult.files).
 */
export function placementViolations(files: ReadonlyMap<string, string>, manifest: SplitManifest, facts?: SymbolFacts): PlacementViolation[] {
  const parse = (name: string): SourceUnit | undefined => {
    const text = files.get(name);
    return text === undefined ? undefined : readUnit(text);
  };
  const header = manifest.header ? parse(manifest.header) : undefined;
  const parts = manifest.parts.map((p) => ({ part: p, units: (p.files ?? [p.file]).map((f) => ({ file: f, unit: parse(f) })) }));
  // What the split defines itself (in any part) is no symbol of a target, whatever an object's symbols hold.
  const defined = new Set<string>(manifest.exports);
  for (const { units } of parts) for (const { unit } of units) for (const item of unit?.items ?? []) if (item.kind !== 'prototype' && item.kind !== 'include') for (const d of item.defines) defined.add(d);
  const out: PlacementViolation[] = [];
  for (const { part, units } of parts) {
    const present = [...units.map((u) => u.unit), header].filter((u): u is SourceUnit => !!u);
    const annotations = readRelocAnnotations({ source: present.map((u) => u.source).join('\n'), items: present.flatMap((u) => u.items) });
    const symbols = new SymbolObjects(annotations, manifest.objNames, facts);
    for (const { file, unit } of units) {
      if (!unit) continue;
      const declared = new Set([...unit.items, ...(header?.items ?? [])].filter((i) => i.kind === 'prototype').flatMap((i) => i.defines));
      const seen = new Set<string>();
      for (const item of unit.items) {
        // A KLP_MODULE_RELOC list only says where its symbols are; the build drops it.
        if ((item.kind !== 'function' && item.kind !== 'variable') || isModuleRelocList(item)) continue;
        for (const name of item.uses) {
          if (defined.has(name) || seen.has(name)) continue;
          const owner = symbols.ownerOf(name, declared.has(name));
          if (owner?.kind !== 'object' || owner.object === part.object) continue;
          seen.add(name);
          const text = unit.source.slice(item.node.startIndex, item.end);
          const pos = unit.positionAt(item.node.startIndex + Math.max(firstUse(text, name), 0));
          const where = part.object === 'vmlinux' ? 'the main module' : `the per-object module of '${part.object}'`;
          out.push({
            file,
            ...pos,
            module: part.module,
            object: part.object,
            symbol: name,
            symbolObject: owner.object,
            message: `'${name}' of module '${owner.object}' is used by ${where} '${part.module}': only the per-object module '${manifest.patch}__${owner.object}' may relocate against '${owner.object}'`,
          });
        }
      }
    }
  }
  return out;
}


import type { DiagnosticSink } from '@klp-split/core';
import { blankStringsAndComments } from './c-identifiers.js';
import { declaredName } from './declarators.js';
import type { SourceUnit } from './items.js';
import type { SyntaxNode } from './parse.js';
import type { LivepatchModel } from './livepatch-model.js';

/**
 * `obj->mod` changes meaning in the split (spec §3: "`mod` now means the
 * livepatch module carrying this object"): vmlinux's object had `.mod`
 * NULL and now has THIS_MODULE, a module's object had its target and now
 * has the per-object module. Code that prints or compares it compiles and
 * runs, and does something else: every read is flagged at its line.
 */
export function warnObjModReads(unit: SourceUnit, model: LivepatchModel, sink: DiagnosticSink): void {
  const callbacks = new Set(model.objects.flatMap((o) => o.callbacks.map((c) => c.func)));
  for (const item of unit.items) {
    if (item.kind !== 'function') continue;
    const params = klpObjectParams(item.node);
    if (!params.length) continue;
    const fn = item.defines[0] ?? '';
    // Offsets stay put: strings and comments are blanked to the same length.
    const body = blankStringsAndComments(unit.source.slice(item.node.startIndex, item.end));
    const lines = new Set<number>();
    for (const p of params) {
      const re = new RegExp(`\\b${p}\\s*->\\s*mod\\b`, 'g');
      for (const m of body.matchAll(re)) {
        const pos = unit.positionAt(item.node.startIndex + m.index!);
        if (lines.has(pos.line)) continue;
        lines.add(pos.line);
        const where = callbacks.has(fn) ? `callback '${fn}'` : `'${fn}'`;
        sink.warning(
          pos,
          'obj-mod-meaning',
          `${where} reads '${p}->mod': in the split, vmlinux's object has .mod = THIS_MODULE (not NULL) and a module's object has its per-object module '<patch>__<object>' (not the target); use '${p}->name' to tell the objects apart`,
        );
      }
    }
  }
}

function klpObjectParams(fn: SyntaxNode): string[] {
  const out: string[] = [];
  for (const p of fn.childForFieldName('declarator')?.descendantsOfType('parameter_declaration') ?? []) {
    const type = p.childForFieldName('type');
    if (type?.type !== 'struct_specifier' || type.childForFieldName('name')?.text !== 'klp_object') continue;
    const name = declaredName(p.childForFieldName('declarator'));
    if (name) out.push(name);
  }
  return out;
}

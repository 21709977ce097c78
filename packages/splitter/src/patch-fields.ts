import type { ManifestState } from '@klp-split/core';
import { initElements, isTerminator } from './initializer.js';
import { identifiersIn } from './c-identifiers.js';
import type { SourceUnit } from './items.js';
import { initializerOf, type LivepatchModel } from './livepatch-model.js';

/**
 * klp_patch's `replace` and `states` as values for the manifest, evaluated
 * from the C text: integer and boolean literals and object-like #defines of
 * them in the same file. What cannot be evaluated stays null (or absent) and
 * keeps its C text, so no reader mistakes a guess for the source's value.
 */

function defines(source: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of source.matchAll(/^[ \t]*#[ \t]*define[ \t]+([A-Za-z_]\w*)[ \t]+([^\n]*?)[ \t]*$/gm)) out.set(m[1]!, m[2]!);
  return out;
}

/** The value of a constant expression klp-split can read without a preprocessor, or null. */
function evalConstant(text: string, macros: Map<string, string>, depth = 0): number | null {
  const t = text.trim().replace(/^\((.*)\)$/s, '$1').trim();
  if (t === 'true') return 1;
  if (t === 'false') return 0;
  const lit = /^(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)[uUlL]*$/.exec(t);
  if (lit) {
    const s = lit[1]!;
    const v = s.startsWith('0x') || s.startsWith('0X') ? Number.parseInt(s.slice(2), 16) : s.length > 1 && s.startsWith('0') ? Number.parseInt(s, 8) : Number(s);
    return Number.isSafeInteger(v) ? v : null;
  }
  const def = /^[A-Za-z_]\w*$/.test(t) ? macros.get(t) : undefined;
  return def !== undefined && depth < 8 ? evalConstant(def, macros, depth + 1) : null;
}

/** `patch.replace = replace;` in a function: the field's value is decided at run time. */
function runtimeAssignment(source: string, patchVar: string | undefined, field: string): string | undefined {
  if (!patchVar) return undefined;
  const re = new RegExp(`\\b${patchVar}\\s*(?:\\.|->)\\s*${field}\\s*=(?!=)[^;]*;`);
  return re.exec(source)?.[0];
}

interface PatchFields {
  replace?: boolean;
  replaceText?: string;
  states?: ManifestState[];
}

export function patchFields(unit: SourceUnit, model: LivepatchModel): PatchFields {
  const macros = defines(unit.source);
  const out: PatchFields = {};
  const replace = model.patchFields.find((e) => e.field === 'replace');
  const assigned = runtimeAssignment(unit.source, model.patchItem.defines[0], 'replace');
  // Assigned at run time (test_klp_atomic_replace.c sets it from a module parameter): no static value.
  if (assigned) out.replaceText = assigned;
  else if (!replace) out.replace = false;
  else {
    const v = evalConstant(replace.value.text, macros);
    if (v === null) out.replaceText = replace.value.text;
    else out.replace = v !== 0;
  }
  const states = model.patchFields.find((e) => e.field === 'states');
  // `.states = NULL` (or 0) is no states at all.
  if (states && evalConstant(states.value.text, macros) !== 0 && states.value.text.trim() !== 'NULL') {
    const name = [...identifiersIn(states.value)][0];
    const item = name ? unit.byName.get(name)?.find((i) => i.kind === 'variable' && initializerOf(i)) : undefined;
    const list = item ? initializerOf(item) : undefined;
    if (!list) {
      out.states = [{ id: null, version: null, idText: states.value.text }];
    } else {
      out.states = [];
      for (const el of initElements(list, unit.source)) {
        if (isTerminator(el.node) || el.value.type !== 'initializer_list') continue;
        const fields = initElements(el.value, unit.source, ['id', 'version', 'data']);
        const id = fields.find((f) => f.field === 'id');
        const version = fields.find((f) => f.field === 'version');
        out.states.push({
          id: id ? evalConstant(id.value.text, macros) : 0,
          version: version ? evalConstant(version.value.text, macros) : 0,
          idText: id?.value.text ?? '0',
          ...(version ? { versionText: version.value.text } : {}),
        });
      }
    }
  }
  return out;
}

import type { DiagnosticSink } from '@klp-split/core';
import { blankStringsAndComments } from './c-identifiers.js';
import type { SourceUnit } from './items.js';

/**
 * A livepatch whose `klp_patch` is filled in at run time
 * (`static struct klp_patch patch;` and `patch.objs = objs;` in its init, or
 * one allocated with kzalloc) has no initializer for the splitter to read.
 * It is a livepatch all the same: say so at its line and what to write,
 * rather than "not a livepatch".
 */
export function reportRuntimePatch(unit: SourceUnit, sink: DiagnosticSink): boolean {
  const decl = unit.items.find((i) => (i.kind === 'variable' || i.kind === 'prototype') && i.structTag === 'klp_patch');
  const code = blankStringsAndComments(unit.source);
  const call = /\bklp_enable_patch\s*\(/.exec(code);
  if (!decl && !call) return false;
  const name = decl?.defines[0];
  const fill = name ? new RegExp(`\\b${name}\\s*(?:\\.|->)\\s*(?:objs|mod)\\s*=`).exec(code) : undefined;
  const where = decl ? decl.pos : unit.positionAt(call!.index);
  const at = fill ? ` (line ${unit.positionAt(fill.index).line} sets its fields)` : '';
  const what = decl ? `struct klp_patch '${name}' is filled in at run time${at}` : 'klp_enable_patch() is called, but no struct klp_patch is defined with an initializer';
  sink.error(where, 'patch-built-at-run-time', `${what}; klp-split reads the patch from its definition: write it as \`static struct klp_patch ${name ?? 'patch'} = { .mod = THIS_MODULE, .objs = objs, };\` with its klp_object array defined the same way`);
  return true;
}


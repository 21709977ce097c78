import { renameSync, writeFileSync } from 'node:fs';
import { readInput } from '@klp-split/core';
import { basename } from 'node:path';
import { readElf, readModinfo, readThisModuleName, VMLINUX } from '@klp-split/kernel-facts';
import type { PatchRole, RelocFacts } from './classify.js';
import { convertModule, type ConvertResult } from './convert.js';
import type { SourceIndex } from './source-lines.js';

export interface RewriteOutcome extends ConvertResult {
  ko: string;
  module: string;
  role: PatchRole;
  /** False: not a livepatch module (no `MODULE_INFO(livepatch, "Y")`), left alone. */
  livepatch: boolean;
  written: boolean;
}

/**
 * The role of a module built elsewhere: `<patch>__<object>` is a split's
 * per-object module; anything else a classic livepatch of vmlinux and the
 * given objects.
 */
export function guessRole(moduleName: string, objects: readonly string[]): PatchRole {
  const m = /__(.+)$/.exec(moduleName);
  if (m) return { kind: 'part', target: m[1]! };
  return { kind: 'classic', objects: [VMLINUX, ...objects.filter((o) => o !== VMLINUX)] };
}

/** Converts one built .ko in place (atomically); nothing is written when there are errors. */
export function rewriteModuleFile(ko: string, opts: { role?: PatchRole; objects?: readonly string[]; facts: RelocFacts; sources: SourceIndex; out?: string }): RewriteOutcome {
  const elf = readElf(readInput(ko, 'elf'), ko);
  const modinfo = readModinfo(elf);
  const name = readThisModuleName(elf) ?? modinfo.get('name')?.[0] ?? basename(ko, '.ko').replace(/-/g, '_');
  const livepatch = modinfo.get('livepatch')?.[0] === 'Y';
  const role = opts.role ?? guessRole(name, opts.objects ?? []);
  const base = { ko, module: name, role, livepatch, written: false };
  if (!livepatch) return { ...base, relocations: [], symbols: [], droppedVersions: [], droppedDepends: [], diagnostics: [] };
  const result = convertModule({ elf, role, facts: opts.facts, sources: opts.sources });
  if (!result.output) return { ...base, ...result };
  const target = opts.out ?? ko;
  const tmp = `${target}.${process.pid}.tmp`;
  writeFileSync(tmp, result.output);
  renameSync(tmp, target);
  return { ...base, ...result, written: true };
}

import type { Diagnostic } from '@klp-split/core';
import { elfConstants as C, readElf, type ElfFile, type ElfRela, klpRelaName, klpSymName } from '@klp-split/kernel-facts';
import { readAnnotations, type Annotation } from './annotations.js';
import { classify, type Classification, type PatchRole, type RelocFacts } from './classify.js';
import { applyElfEdits, emptyEdits, SHF_INFO_LINK } from './elf-writer.js';
import { dropDepends, dropVersions } from './module-info-edit.js';
import { relocationProblems } from './rules.js';
import type { SourceIndex } from './source-lines.js';
import { resolveSympos, type SymbolProblem } from './sympos.js';

/** One livepatch relocation, in livepatch terms. */
export interface LivepatchRelocation {
  /** The object whose `.klp.rela` section carries it. */
  lpObject: string;
  object: string;
  symbol: string;
  sympos: number;
  /** The section it patches. */
  section: string;
  offset: number;
  type: string;
}

export interface ConvertResult {
  /** The rewritten module; undefined when there were errors (nothing is written) or nothing to convert. */
  output?: Buffer;
  relocations: LivepatchRelocation[];
  /** Undefined symbols converted: C name -> `.klp.sym` name. */
  symbols: { name: string; klpName: string; object: string; sympos: number; reason: string }[];
  droppedVersions: string[];
  droppedDepends: string[];
  diagnostics: Diagnostic[];
}

interface ConvertInput {
  elf: ElfFile;
  role: PatchRole;
  facts: RelocFacts;
  sources: SourceIndex;
}

const LIVEPATCH_RELA_FLAGS = C.SHF_ALLOC | SHF_INFO_LINK | C.SHF_RELA_LIVEPATCH;

export function convertModule({ elf, role, facts, sources }: ConvertInput): ConvertResult {
  const diagnostics: Diagnostic[] = [];
  const report = (symbol: string, p: SymbolProblem, form?: Annotation['form']): void => {
    const at = sources.find(symbol, form);
    diagnostics.push({ file: at?.file ?? elf.path, line: at?.line ?? 0, col: at?.col ?? 0, severity: p.severity, code: p.code, message: p.message });
  };
  const { annotations, problems } = readAnnotations(elf);
  for (const p of problems) report(p.symbol, { ...p, severity: 'error' }, p.form);
  const decisions = classify(elf, facts, role, annotations);

  // The sympos of every symbol that becomes a livepatch relocation.
  const converted = new Map<number, Extract<Classification, { kind: 'livepatch' }> & { sympos: number }>();
  for (const d of decisions) {
    const cName = d.kind === 'normal' ? d.name : d.kind === 'livepatch' ? d.symbol : (d.annotation?.symbol ?? d.name);
    if (d.kind === 'problem') {
      report(cName, d.problem, d.annotation?.form);
      continue;
    }
    if (d.kind !== 'livepatch') continue;
    const r = resolveSympos(d.symbol, d.object, facts.tables.get(d.object), d.annotation?.sympos);
    if ('problem' in r) {
      report(cName, r.problem, d.annotation?.form);
      continue;
    }
    if (r.warning) report(cName, r.warning, d.annotation?.form);
    converted.set(d.symIndex, { ...d, sympos: r.sympos });
  }

  const edits = emptyEdits();
  const groups = new Map<string, { name: string; target: number; relocs: ElfRela[] }>();
  const relocations: LivepatchRelocation[] = [];
  const annotationSections = new Set(annotations.filter((a) => a.section !== undefined).map((a) => a.section!));
  for (const rs of elf.relocations) {
    if (annotationSections.has(rs.target.index)) {
      // klp-convert's annotation data is for the converter only: nothing is left to relocate.
      edits.keptRelocs.set(rs.section.index, []);
      edits.flags.set(rs.target.index, rs.target.flags & ~C.SHF_ALLOC);
      continue;
    }
    if (!(rs.target.flags & C.SHF_ALLOC) || rs.section.flags & C.SHF_RELA_LIVEPATCH) continue;
    const kept: ElfRela[] = [];
    for (const r of rs.relocs) {
      const c = converted.get(r.symIndex);
      if (!c) {
        kept.push(r);
        continue;
      }
      const problems = relocationProblems({ lpObject: c.lpObject, object: c.object, symbol: c.symbol, section: rs.target.name });
      for (const p of problems) report(c.annotation?.symbol ?? c.symbol, p, c.annotation?.form);
      const name = klpRelaName(c.lpObject, rs.target.name);
      const group = groups.get(name) ?? { name, target: rs.target.index, relocs: [] };
      groups.set(name, group);
      group.relocs.push(r);
      relocations.push({ lpObject: c.lpObject, object: c.object, symbol: c.symbol, sympos: c.sympos, section: rs.target.name, offset: r.offset, type: C.RELOC_NAMES[r.type] ?? `type ${r.type}` });
    }
    if (kept.length !== rs.relocs.length) edits.keptRelocs.set(rs.section.index, kept);
  }

  const symbols = [...converted.values()].map((c) => ({ name: c.name, klpName: klpSymName(c.object, c.symbol, c.sympos), object: c.object, sympos: c.sympos, reason: c.reason }));
  const result: ConvertResult = { relocations, symbols, droppedVersions: [], droppedDepends: [], diagnostics: dedupe(diagnostics) };
  if (result.diagnostics.some((d) => d.severity === 'error') || converted.size === 0) return result;

  for (const c of converted.values()) edits.symbols.set(c.symIndex, { name: klpSymName(c.object, c.symbol, c.sympos), shndx: C.SHN_LIVEPATCH });
  for (const g of groups.values()) edits.newRelaSections.push({ ...g, flags: LIVEPATCH_RELA_FLAGS });
  result.droppedVersions = dropVersions(elf, new Set([...converted.values()].filter((c) => c.exportedBy).map((c) => c.name)), edits);
  // A module stays a dependency while any symbol still resolved by the loader comes from it.
  const stillUsed = new Set(decisions.filter((d) => d.kind === 'normal').map((d) => facts.moduleExports.get(d.name)).filter((m): m is string => !!m));
  const gone = new Set([...converted.values()].map((c) => c.exportedBy).filter((m): m is string => !!m && !stillUsed.has(m)));
  result.droppedDepends = dropDepends(elf, gone, edits);
  result.output = applyElfEdits(elf, edits);
  // The rewrite must read back as what was meant: same symbols, the new sections.
  const back = readElf(result.output, elf.path);
  if (back.symbols.length !== elf.symbols.length) throw new Error(`rewrite of ${elf.path} changed the symbol count`);
  return result;
}

function dedupe(diags: Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return diags.filter((d) => {
    const key = `${d.file}:${d.line}:${d.code}:${d.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

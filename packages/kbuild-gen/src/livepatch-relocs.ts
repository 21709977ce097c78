import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, isAbsolute, join, relative } from 'node:path';
import { readInput } from '@klp-split/core';
import { guessRole, listLivepatchRelocations, loadFacts, patchObjects, rewriteModuleFile, SourceIndex, type PatchRole, type RewriteOutcome } from '@klp-split/klp-relocs';
import { readElf } from '@klp-split/kernel-facts';
import type { BuiltModule, Diagnostic } from '@klp-split/core';

/**
 * The post-link step of `klp-split build`: every livepatch module it built
 * (`MODULE_INFO(livepatch, "Y")`) gets its references that only the
 * livepatch core can resolve rewritten into `.klp.rela`/`.klp.sym`
 * relocations (@klp-split/klp-relocs). modpost runs with
 * KBUILD_MODPOST_WARN=1 so that those symbols do not stop the build; its
 * "undefined!" reports are then settled here: the converter reports every
 * symbol it cannot place, at its C line, as an error.
 */
export interface RelocsOptions {
  /** Built target modules (.ko): their symbols give sympos, their exports the dependencies. */
  targets?: string[];
  /** A kallsyms dump of the booted kernel (the build passes the tree's by default). */
  kallsyms?: string;
  /** false: leave the modules as kbuild linked them (and modpost's checks as they are). */
  relocs?: boolean;
}

export interface ModuleRelocs {
  module: string;
  ko: string;
  /** Converted symbols: `.klp.sym` name, object, sympos. */
  symbols: { name: string; klpName: string; object: string; sympos: number }[];
  /** `.klp.rela` sections written, with their entry counts. */
  sections: Record<string, number>;
  droppedDepends: string[];
}

const LIVEPATCH_INFO = /MODULE_INFO\s*\(\s*livepatch\s*,\s*"Y"\s*\)/;
const UNDEFINED = /^"([^"]+)" \[([^\]]+\.ko)\] undefined!$/;
const SUPPRESSED = /^suppressed \d+ unresolved symbol warnings/;

/** Whether a directory's C sources declare a livepatch module (so its build needs the pass). */
export function hasLivepatchSources(dir: string): boolean {
  return readdirSync(dir).some((f) => f.endsWith('.c') && !f.endsWith('.mod.c') && LIVEPATCH_INFO.test(readFileSync(join(dir, f), 'latin1')));
}

/**
 * klp_object names each classic livepatch source gives (`.name = "..."`):
 * the objects it fixes, by the module a one-file source builds; `*` holds
 * them all, for modules made of several files.
 */
export function classicObjects(dir: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const all = new Set<string>();
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('.c') || f.endsWith('.mod.c')) continue;
    const names = [...readFileSync(join(dir, f), 'latin1').matchAll(/\.name\s*=\s*"([A-Za-z0-9_-]+)"/g)].map((m) => m[1]!.replace(/-/g, '_'));
    out.set(f.slice(0, -2).replace(/-/g, '_'), [...new Set(names)]);
    names.forEach((n) => all.add(n));
  }
  out.set('*', [...all]);
  return out;
}

interface RelocsPass {
  outcomes: RewriteOutcome[];
  records: ModuleRelocs[];
  diagnostics: Diagnostic[];
}

/**
 * What the build knows without reading the modules: when kbuild linked
 * them, and which ones modpost reported undefined symbols for.
 */
interface LinkFacts {
  /** Modules modified at or after this time (ms since the epoch) were linked by this build. */
  since: number;
  /** .ko paths modpost reported an "undefined!" symbol for. */
  undefinedIn: ReadonlySet<string>;
}

export function runRelocsPass(
  dir: string,
  modules: BuiltModule[],
  ctx: { symvers: string[]; roles?: Map<string, PatchRole>; objects?: Map<string, string[]>; opts: RelocsOptions; link?: LinkFacts },
): RelocsPass {
  const kallsyms = ctx.opts.kallsyms;
  // Read only when a module needs them: a build whose modules use nothing but exports pays nothing.
  let facts: ReturnType<typeof loadFacts> | undefined;
  const getFacts = () => (facts ??= loadFacts({ symvers: ctx.symvers.filter((f) => existsSync(f)), targets: ctx.opts.targets ?? [], kallsyms }));
  let sources: SourceIndex | undefined;
  const targetNames = (ctx.opts.targets ?? []).map((ko) => basename(ko, '.ko').replace(/-/g, '_'));
  const outcomes: RewriteOutcome[] = [];
  const diagnostics: Diagnostic[] = [];
  const rel = (p: string): string => (isAbsolute(p) && p.startsWith(dir) ? relative(dir, p) : p);
  for (const m of modules) {
    const base = m.module.replace(/-/g, '_');
    const objects = [...new Set([...(ctx.objects?.get(base) ?? ctx.objects?.get('*') ?? []), ...targetNames])];
    const role = ctx.roles?.get(base) ?? guessRole(base, objects);
    if (ctx.link && nothingToConvert(m.ko, role, ctx.link)) {
      outcomes.push({ ko: m.ko, module: base, role, livepatch: false, written: false, relocations: [], symbols: [], droppedVersions: [], droppedDepends: [], diagnostics: [] });
      continue;
    }
    const o = rewriteModuleFile(m.ko, { role, facts: getFacts(), sources: (sources ??= SourceIndex.ofDirectory(dir)) });
    outcomes.push(o);
    for (const d of o.diagnostics) diagnostics.push({ ...d, file: rel(d.file) });
  }
  // From the modules as they now are: one converted by an earlier build (make did not relink it) counts too.
  const records = outcomes
    .filter((o) => o.livepatch && !o.diagnostics.some((d) => d.severity === 'error'))
    .map((o) => moduleRecord(dir, o))
    .filter((r) => r.symbols.length > 0);
  return { outcomes, records, diagnostics };
}

/**
 * The .ko files modpost reported undefined symbols for; undefined when it
 * stopped reporting ("suppressed N unresolved symbol warnings": modpost
 * reports 10 at most), since then a module without a report may still
 * have undefined symbols.
 */
export function undefinedReports(diags: readonly Diagnostic[], dir: string): Set<string> | undefined {
  const out = new Set<string>();
  for (const d of diags) {
    if (d.code === 'modpost' && SUPPRESSED.test(d.message)) return undefined;
    const m = d.code === 'modpost' ? UNDEFINED.exec(d.message) : null;
    if (m) out.add(isAbsolute(m[2]!) ? m[2]! : join(dir, m[2]!));
  }
  return out;
}

/**
 * modpost's diagnostics after the pass: "undefined!" reports of livepatch
 * modules are the converter's business (it reported what it could not
 * place); those of other modules are errors again, as without
 * KBUILD_MODPOST_WARN.
 */
export function settleModpost(diags: Diagnostic[], livepatchKos: Set<string>, dir: string): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const d of diags) {
    if (d.code !== 'modpost') {
      out.push(d);
      continue;
    }
    if (SUPPRESSED.test(d.message)) continue;
    const m = UNDEFINED.exec(d.message);
    if (!m) {
      out.push(d);
      continue;
    }
    const ko = isAbsolute(m[2]!) ? m[2]! : join(dir, m[2]!);
    if (livepatchKos.has(ko)) continue;
    out.push({ ...d, severity: 'error' });
  }
  return out;
}

function moduleRecord(dir: string, o: RewriteOutcome): ModuleRelocs {
  const listed = listLivepatchRelocations(readElf(readInput(o.ko, 'elf'), o.ko));
  const symbols = new Map<string, ModuleRelocs['symbols'][number]>();
  const sections: Record<string, number> = {};
  for (const r of listed) {
    const klpName = `.klp.sym.${r.object}.${r.symbol},${r.sympos}`;
    symbols.set(klpName, { name: r.symbol, klpName, object: r.object, sympos: r.sympos });
    sections[r.klpSection] = (sections[r.klpSection] ?? 0) + 1;
  }
  return { module: o.module, ko: relative(dir, o.ko), symbols: [...symbols.values()], sections, droppedDepends: o.droppedDepends };
}

/**
 * A module this build just linked, for which modpost found every symbol
 * (no "undefined!" report) and which depends on none of the patch's own
 * objects, uses exports of vmlinux and of other modules only: nothing in it
 * becomes a livepatch relocation, and it need not be read.
 */
function nothingToConvert(ko: string, role: PatchRole, link: LinkFacts): boolean {
  if (link.undefinedIn.has(ko) || !existsSync(ko) || statSync(ko).mtimeMs < link.since) return false;
  const modC = `${ko.slice(0, -'.ko'.length)}.mod.c`;
  if (!existsSync(modC)) return false;
  const depends = /MODULE_INFO\(depends, "([^"]*)"\)/.exec(readFileSync(modC, 'latin1'))?.[1] ?? '';
  const own = patchObjects(role);
  return !depends.split(',').some((d) => d && own.includes(d.replace(/-/g, '_')));
}

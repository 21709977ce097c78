import { basename } from 'node:path';
import { readInput } from '@klp-split/core';
import { readFileSync } from 'node:fs';
import type { SymbolFacts } from '@klp-split/core';
import { loadSymvers, parseKallsyms, readElf, readThisModuleName, VMLINUX, moduleName } from '@klp-split/kernel-facts';
import type { RelocFacts } from './classify.js';
import { moduleTable, ObjectSymbolTable, vmlinuxTable } from './symbol-table.js';

interface FactSources {
  /** Module.symvers files: the kernel tree's, the overlay's, other modules'. */
  symvers: readonly string[];
  /** Built target modules (.ko): their symbols (sympos) and exports. */
  targets: readonly string[];
  /** A kallsyms dump of the booted kernel, for vmlinux's symbols. */
  kallsyms?: string;
}

const kallsymsTables = new Map<string, ObjectSymbolTable>();

/** vmlinux's table from a kallsyms dump, parsed once per process and only when a lookup needs it. */
function kallsymsTable(file: string): ObjectSymbolTable {
  let t = kallsymsTables.get(file);
  if (!t) {
    t = vmlinuxTable(parseKallsyms(readFileSync(file, 'latin1'), file));
    kallsymsTables.set(file, t);
  }
  return t;
}

const KSYMTAB_PREFIX = '__ksymtab_';

/** Reads the facts once per build; every module converted in it shares them. */
export function loadFacts(src: FactSources): RelocFacts & { targetModules: string[] } {
  const vmlinuxExports = new Set<string>();
  const moduleExports = new Map<string, string>();
  for (const file of src.symvers) {
    for (const e of loadSymvers(file).all.values()) {
      if (e.module === VMLINUX) vmlinuxExports.add(e.name);
      else moduleExports.set(e.name, moduleName(basename(e.module)));
    }
  }
  const modules = new Map<string, ObjectSymbolTable>();
  const targetModules: string[] = [];
  for (const ko of src.targets) {
    const elf = readElf(readInput(ko, 'elf'), ko);
    const name = readThisModuleName(elf) ?? moduleName(basename(ko, '.ko'));
    targetModules.push(name);
    modules.set(name, moduleTable(name, elf));
    for (const s of elf.symbols) {
      if (s.name.startsWith(KSYMTAB_PREFIX) && elf.sections[s.shndx]?.name.startsWith('__ksymtab')) moduleExports.set(s.name.slice(KSYMTAB_PREFIX.length), name);
    }
  }
  const kallsyms = src.kallsyms;
  const tables = {
    get: (o: string) => (o === VMLINUX ? (kallsyms ? kallsymsTable(kallsyms) : undefined) : modules.get(o)),
    has: (o: string) => (o === VMLINUX ? !!kallsyms : modules.has(o)),
  };
  return { vmlinuxExports, moduleExports, tables, targetModules };
}

/**
 * The facts as the splitter asks them (placement by object, @klp-split/splitter's
 * SymbolFacts), a compiler's suffixed clone (`name.constprop.0`) counting as
 * the name. vmlinux's table (a kallsyms dump) is read only when asked for.
 */
export function splitterFacts(facts: RelocFacts & { targetModules: string[] }): SymbolFacts {
  const has = (o: string, name: string): boolean => !!facts.tables.get(o)?.holds(name);
  return {
    modulesWith: (name) => {
      const out = facts.targetModules.filter((m) => has(m, name));
      const exporter = facts.moduleExports.get(name);
      return exporter && !out.includes(exporter) ? [...out, exporter] : out;
    },
    isVmlinuxExport: (name) => facts.vmlinuxExports.has(name),
    inVmlinux: (name) => (facts.tables.has(VMLINUX) ? has(VMLINUX, name) : undefined),
    knows: (m) => facts.tables.has(m),
  };
}

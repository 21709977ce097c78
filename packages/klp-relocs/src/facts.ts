import { basename } from 'node:path';
import { readInput } from '@klp-split/core';
import { readFileSync } from 'node:fs';
import { loadModuleImage, loadSymvers, parseKallsyms, VMLINUX } from '@klp-split/runtime-sim';
import type { RelocFacts } from './classify.js';
import { moduleName } from './names.js';
import { moduleTable, ObjectSymbolTable, vmlinuxTable } from './symbol-table.js';

export interface FactSources {
  /** Module.symvers files: the kernel tree's, the overlay's, other modules'. */
  symvers: readonly string[];
  /** Built target modules (.ko): their symbols (sympos) and exports. */
  targets: readonly string[];
  /** A kallsyms dump of the booted kernel, for vmlinux's symbols. */
  kallsyms?: string;
}

const kallsymsTables = new Map<string, ObjectSymbolTable>();

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
  const tables = new Map<string, ObjectSymbolTable>();
  const targetModules: string[] = [];
  for (const ko of src.targets) {
    const image = loadModuleImage(ko, readInput(ko, 'elf'));
    const name = image.name;
    targetModules.push(name);
    tables.set(name, moduleTable(name, image.elf));
    for (const e of image.exports) moduleExports.set(e, name);
  }
  if (src.kallsyms) {
    let t = kallsymsTables.get(src.kallsyms);
    if (!t) {
      t = vmlinuxTable(parseKallsyms(readFileSync(src.kallsyms, 'latin1'), src.kallsyms));
      kallsymsTables.set(src.kallsyms, t);
    }
    tables.set(VMLINUX, t);
  }
  return { vmlinuxExports, moduleExports, tables, targetModules };
}

import { statSync } from 'node:fs';
import { readInput } from '@klp-split/core';
import { elfConstants as C, readModinfo, readThisModuleName, readVersions, ElfError, readElf, type ElfFile, type ElfSymbol } from '@klp-split/kernel-facts';
import { loaderProblem } from '../elf/loader-checks.js';
import { RelocationIndex } from './pointers.js';

/** A kernel module file as the loader sees it. */
export interface ModuleImage {
  path: string;
  elf: ElfFile;
  /** Name from .gnu.linkonce.this_module (what the kernel calls it). */
  name: string;
  modinfo: Map<string, string[]>;
  isLivepatch: boolean;
  /** Symbols the module exports (EXPORT_SYMBOL*). */
  exports: Set<string>;
  /** Undefined symbols resolved by the loader against exports. */
  undefinedSymbols: string[];
  /** `.klp.sym.<obj>.<name>,<pos>` symbols, resolved by the livepatch core. */
  livepatchSymbols: ElfSymbol[];
  relocs: RelocationIndex;
  versions: { crc: number; name: string }[];
}

const KSYMTAB_PREFIX = '__ksymtab_';

export function loadModuleImage(path: string, buf: Buffer = readInput(path, 'elf', { what: 'kernel module' })): ModuleImage {
  const elf = readElf(buf, path);
  const modinfo = readModinfo(elf);
  const name = readThisModuleName(elf) ?? modinfo.get('name')?.[0] ?? path.replace(/^.*\//, '').replace(/\.ko$/, '').replace(/-/g, '_');
  const exports = new Set<string>();
  const undefinedSymbols: string[] = [];
  const livepatchSymbols: ElfSymbol[] = [];
  for (const s of elf.symbols) {
    if (s.index === 0 || s.name === '') continue;
    if (s.shndx === C.SHN_LIVEPATCH) livepatchSymbols.push(s);
    else if (s.shndx === C.SHN_UNDEF) undefinedSymbols.push(s.name);
    else if (s.name.startsWith(KSYMTAB_PREFIX) && elf.sections[s.shndx]?.name.startsWith('__ksymtab')) exports.add(s.name.slice(KSYMTAB_PREFIX.length));
  }
  const versions = readVersions(elf);
  // After .modinfo, __versions and the name, as the kernel's loader reads them before it lays the sections out.
  const unloadable = loaderProblem(elf.sections);
  if (unloadable) throw new ElfError(path, unloadable, 'module-unloadable');
  return {
    path,
    elf,
    name,
    modinfo,
    isLivepatch: modinfo.get('livepatch')?.[0] === 'Y',
    exports,
    undefinedSymbols,
    livepatchSymbols,
    relocs: new RelocationIndex(elf),
    versions,
  };
}

const imageCache = new Map<string, { stamp: string; image: ModuleImage }>();

/** A module file read once per process while it is unchanged (targets are shared by many patches). */
export function loadModuleImageCached(path: string): ModuleImage {
  const st = statSync(path);
  const stamp = `${st.size}:${st.mtimeMs}:${st.ino}`;
  const cached = imageCache.get(path);
  if (cached?.stamp === stamp) return cached.image;
  const image = loadModuleImage(path);
  imageCache.set(path, { stamp, image });
  return image;
}

/** Forgets every cached module (benchmarks measure cold reads). */
export function clearModuleImageCache(): void {
  imageCache.clear();
}

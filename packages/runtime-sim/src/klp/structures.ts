import { elfConstants as C } from '@klp-split/kernel-facts';
import type { ElfSection, ElfSymbol } from '@klp-split/kernel-facts';
import type { ModuleImage } from '../image/module-image.js';
import { readU64, readU8 } from '../image/pointers.js';
import { field, type KlpLayout } from './layout.js';

/** struct klp_func, struct klp_object and struct klp_patch as built into a module's data (split API). */
interface KlpFuncImage {
  oldName: string | null;
  newFunc: string | null;
  sympos: number;
}

import { CALLBACK_KINDS, type CallbackKind } from '@klp-split/core';

export type { CallbackKind };

export interface KlpObjectImage {
  symbol: string;
  patchName: string | null | undefined;
  name: string | null | undefined;
  funcs: KlpFuncImage[];
  /** `.funcs` is NULL (klp_enable_patch() refuses such an object). */
  funcsMissing: boolean;
  callbacks: { kind: CallbackKind; func: string }[];
  /** `.mod = THIS_MODULE`: points at the module's own struct module. */
  modIsThisModule: boolean;
}

export interface KlpPatchImage {
  symbol: string;
  /** Split API: the vmlinux object. */
  obj: KlpObjectImage | undefined;
  objNames: string[];
  /** Upstream API: every object of the patch (`objs[]`). */
  objects?: KlpObjectImage[];
  replace: boolean;
  hasStates: boolean;
  /** struct klp_state entries (id, version) up to the empty terminator. */
  states: { id: bigint; version: number }[];
}

const CALLBACKS: readonly CallbackKind[] = CALLBACK_KINDS;
const MAX_FUNCS = 4096;

function dataObjects(image: ModuleImage, size: number): { sym: ElfSymbol; section: ElfSection }[] {
  const out: { sym: ElfSymbol; section: ElfSection }[] = [];
  for (const sym of image.elf.symbols) {
    if (sym.type !== C.STT_OBJECT || sym.size !== size || sym.shndx === C.SHN_UNDEF || sym.shndx >= C.SHN_LORESERVE) continue;
    const section = image.elf.sections[sym.shndx];
    if (section && section.flags & C.SHF_ALLOC && !section.name.startsWith('.gnu.linkonce')) out.push({ sym, section });
  }
  return out;
}

function readObjectAt(image: ModuleImage, layout: KlpLayout, section: ElfSection, base: number, symbol: string): KlpObjectImage {
  const r = image.relocs;
  const o = (f: string): number => base + field(layout, 'klp_object', f);
  const cb = base + field(layout, 'klp_object', 'callbacks');
  const callbacks: KlpObjectImage['callbacks'] = [];
  for (const kind of CALLBACKS) {
    const fn = r.functionName(section, cb + field(layout, 'klp_callbacks', kind));
    if (fn) callbacks.push({ kind, func: fn });
  }
  const mod = r.pointer(section, o('mod'));
  return {
    symbol,
    patchName: layout.klp_object!.patch_name !== undefined ? r.string(section, o('patch_name')) : undefined,
    name: r.string(section, o('name')),
    funcs: readFuncs(image, layout, section, o('funcs')),
    funcsMissing: r.pointer(section, o('funcs')).kind === 'null',
    callbacks,
    modIsThisModule: mod.kind === 'local' && (mod.symbol?.name === '__this_module' || mod.section.name === '.gnu.linkonce.this_module'),
  };
}

function readFuncs(image: ModuleImage, layout: KlpLayout, section: ElfSection, at: number): KlpFuncImage[] {
  const p = image.relocs.pointer(section, at);
  if (p.kind !== 'local') return [];
  const size = layout.klp_func!.sizeof;
  const funcs: KlpFuncImage[] = [];
  for (let i = 0; i < MAX_FUNCS; i++) {
    const base = p.offset + i * size;
    if (base + size > p.section.size) break;
    const oldName = image.relocs.string(p.section, base + field(layout, 'klp_func', 'old_name')) ?? null;
    const newFunc = image.relocs.functionName(p.section, base + field(layout, 'klp_func', 'new_func')) ?? null;
    const sympos = Number(readU64(image.elf, p.section, base + field(layout, 'klp_func', 'old_sympos')));
    // klp_for_each_func_static: the array ends at the first all-empty entry.
    if (oldName === null && newFunc === null && sympos === 0) break;
    funcs.push({ oldName, newFunc, sympos });
  }
  return funcs;
}

/** Every struct klp_object defined in the module. */
export function findObjects(image: ModuleImage, layout: KlpLayout): KlpObjectImage[] {
  return dataObjects(image, layout.klp_object!.sizeof)
    .filter(({ sym, section }) => {
      const f = (n: string): number => sym.value + field(layout, 'klp_object', n);
      return image.relocs.at(section, f('funcs')) !== undefined || image.relocs.at(section, f('patch_name')) !== undefined;
    })
    .map(({ sym, section }) => readObjectAt(image, layout, section, sym.value, sym.name));
}

function readStates(image: ModuleImage, layout: KlpLayout, section: ElfSection, at: number): { id: bigint; version: number }[] {
  const p = image.relocs.pointer(section, at);
  if (p.kind !== 'local' || !layout.klp_state) return [];
  const out: { id: bigint; version: number }[] = [];
  const size = layout.klp_state.sizeof;
  for (let i = 0; i < MAX_FUNCS; i++) {
    const base = p.offset + i * size;
    if (base + size > p.section.size) break;
    const id = readU64(image.elf, p.section, base + field(layout, 'klp_state', 'id'));
    if (id === 0n) break;
    out.push({ id, version: Number(readU64(image.elf, p.section, base + field(layout, 'klp_state', 'version')) & 0xffffffffn) });
  }
  return out;
}

/** The module's struct klp_patch of the stock API (`.objs[]`), if it has one. */
function findUpstreamPatch(image: ModuleImage, layout: KlpLayout): KlpPatchImage | undefined {
  const size = layout.klp_object!.sizeof;
  for (const { sym, section } of dataObjects(image, layout.klp_patch!.sizeof)) {
    const base = sym.value;
    const objs = image.relocs.pointer(section, base + field(layout, 'klp_patch', 'objs'));
    if (objs.kind !== 'local') continue;
    const objects: KlpObjectImage[] = [];
    for (let i = 0; i < MAX_FUNCS; i++) {
      const at = objs.offset + i * size;
      if (at + size > objs.section.size) break;
      const obj = readObjectAt(image, layout, objs.section, at, `${objs.symbol?.name ?? 'objs'}[${i}]`);
      // klp_for_each_object_static: the array ends at the first entry without name and funcs.
      if (obj.name === null && image.relocs.pointer(objs.section, at + field(layout, 'klp_object', 'funcs')).kind === 'null') break;
      objects.push(obj);
    }
    return {
      symbol: sym.name,
      obj: undefined,
      objNames: objects.filter((o) => o.name).map((o) => o.name!),
      objects,
      replace: readU8(image.elf, section, base + field(layout, 'klp_patch', 'replace')) !== 0,
      hasStates: image.relocs.pointer(section, base + field(layout, 'klp_patch', 'states')).kind === 'local',
      states: readStates(image, layout, section, base + field(layout, 'klp_patch', 'states')),
    };
  }
  return undefined;
}

/** The module's struct klp_patch (split API), if it has one. */
export function findPatch(image: ModuleImage, layout: KlpLayout): KlpPatchImage | undefined {
  if (layout.klp_patch!.objs !== undefined) return findUpstreamPatch(image, layout);
  for (const { sym, section } of dataObjects(image, layout.klp_patch!.sizeof)) {
    const base = sym.value;
    const objPtr = image.relocs.pointer(section, base + field(layout, 'klp_patch', 'obj'));
    const namesPtr = image.relocs.pointer(section, base + field(layout, 'klp_patch', 'obj_names'));
    if (objPtr.kind !== 'local' || namesPtr.kind !== 'local') continue;
    const objNames: string[] = [];
    for (let i = 0; i < MAX_FUNCS; i++) {
      const name = image.relocs.string(namesPtr.section, namesPtr.offset + i * 8);
      if (!name) break;
      objNames.push(name);
    }
    return {
      symbol: sym.name,
      obj: readObjectAt(image, layout, objPtr.section, objPtr.offset, objPtr.symbol?.name ?? 'obj'),
      objNames,
      replace: readU8(image.elf, section, base + field(layout, 'klp_patch', 'replace')) !== 0,
      hasStates: image.relocs.pointer(section, base + field(layout, 'klp_patch', 'states')).kind === 'local',
      states: readStates(image, layout, section, base + field(layout, 'klp_patch', 'states')),
    };
  }
  return undefined;
}

interface ModuleKlp {
  patch: KlpPatchImage | undefined;
  objects: KlpObjectImage[];
}

const klpCache = new WeakMap<ModuleImage, ModuleKlp>();

/** The klp structures of a module image, read once (images are shared by many simulated kernels). */
export function klpOf(image: ModuleImage, layout: KlpLayout): ModuleKlp {
  let klp = klpCache.get(image);
  if (!klp) {
    const patch = image.isLivepatch ? findPatch(image, layout) : undefined;
    klp = { patch, objects: image.isLivepatch && !patch ? findObjects(image, layout) : [] };
    klpCache.set(image, klp);
  }
  return klp;
}

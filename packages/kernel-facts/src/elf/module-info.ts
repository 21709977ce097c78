import { MODULE_NAME_LEN } from '@klp-split/core';
import * as C from './constants.js';
import { ElfError, sectionByName, sectionData, type ElfFile, type ElfSection } from './reader.js';

/** The bytes of a section modpost fills in; SHT_NOBITS would mean it has none in the file. */
function contents(elf: ElfFile, s: ElfSection): Buffer {
  if (s.type === C.SHT_NOBITS) throw new ElfError(elf.path, `section ${s.index} '${s.name}' is SHT_NOBITS; it must hold the module's data`);
  return sectionData(elf, s);
}

/** `.modinfo`: NUL-separated `key=value` strings; keys may repeat (alias, depends). */
export function readModinfo(elf: ElfFile): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const s = sectionByName(elf, '.modinfo');
  if (!s) return out;
  for (const entry of contents(elf, s).toString('latin1').split('\0')) {
    const eq = entry.indexOf('=');
    if (eq <= 0) continue;
    const key = entry.slice(0, eq);
    const list = out.get(key) ?? [];
    list.push(entry.slice(eq + 1));
    out.set(key, list);
  }
  return out;
}


/** `__versions`: struct modversion_info { unsigned long crc; char name[MODULE_NAME_LEN]; }. */
export function readVersions(elf: ElfFile): { crc: number; name: string }[] {
  const s = sectionByName(elf, '__versions');
  if (!s) return [];
  const data = contents(elf, s);
  const out: { crc: number; name: string }[] = [];
  const entry = 8 + MODULE_NAME_LEN;
  for (let o = 0; o + entry <= data.length; o += entry) {
    const raw = data.subarray(o + 8, o + entry);
    const nul = raw.indexOf(0);
    out.push({ crc: Number(data.readBigUInt64LE(o) & 0xffffffffn), name: raw.toString('latin1', 0, nul < 0 ? raw.length : nul) });
  }
  return out;
}

/**
 * The module's name as the loader sees it: `name` in struct module, the
 * `.gnu.linkonce.this_module` section, after `state` and `list` (offset 24).
 */
export function readThisModuleName(elf: ElfFile): string | undefined {
  const s = sectionByName(elf, '.gnu.linkonce.this_module');
  if (!s) return undefined;
  const data = contents(elf, s);
  if (data.length < 24 + MODULE_NAME_LEN) return undefined;
  const raw = data.subarray(24, 24 + MODULE_NAME_LEN);
  const nul = raw.indexOf(0);
  return raw.toString('latin1', 0, nul < 0 ? raw.length : nul);
}

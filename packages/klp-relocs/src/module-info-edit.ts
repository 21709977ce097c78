import { readVersions, sectionByName, sectionData, type ElfFile, moduleName } from '@klp-split/kernel-facts';
import type { ElfEdits } from './elf-writer.js';

const VERSION_ENTRY = 64;

/**
 * Drops the `__versions` entries of symbols the livepatch core now resolves
 * (the loader no longer checks their CRC) by compacting the array.
 */
export function dropVersions(elf: ElfFile, names: ReadonlySet<string>, edits: ElfEdits): string[] {
  const sec = sectionByName(elf, '__versions');
  if (!sec || names.size === 0) return [];
  const versions = readVersions(elf);
  const data = sectionData(elf, sec);
  const kept: Buffer[] = [];
  const dropped: string[] = [];
  versions.forEach((v, i) => {
    if (names.has(v.name)) dropped.push(v.name);
    else kept.push(data.subarray(i * VERSION_ENTRY, (i + 1) * VERSION_ENTRY));
  });
  if (!dropped.length) return [];
  const contents = Buffer.concat(kept);
  edits.contents.set(sec.index, contents);
  // `____versions` covers the whole array: keep its size in step.
  for (const s of elf.symbols) if (s.shndx === sec.index && s.value === 0 && s.size === data.length) edits.symbolSizes.set(s.index, contents.length);
  return dropped;
}

/**
 * Takes modules out of `.modinfo`'s `depends=` (modprobe loads what it
 * names first). Rewritten in place at the same length, padded with NULs, so
 * the offsets of the other entries (and the symbols naming them) hold.
 */
export function dropDepends(elf: ElfFile, modules: ReadonlySet<string>, edits: ElfEdits): string[] {
  const sec = sectionByName(elf, '.modinfo');
  if (!sec || modules.size === 0) return [];
  const data = Buffer.from(sectionData(elf, sec));
  const text = data.toString('latin1');
  const removed: string[] = [];
  let at = 0;
  while (at < text.length) {
    const end = text.indexOf('\0', at);
    const stop = end < 0 ? text.length : end;
    const entry = text.slice(at, stop);
    if (entry.startsWith('depends=')) {
      const names = entry.slice('depends='.length).split(',').filter(Boolean);
      const keep = names.filter((n) => !modules.has(moduleName(n)));
      removed.push(...names.filter((n) => modules.has(moduleName(n))));
      const replacement = Buffer.from(`depends=${keep.join(',')}`, 'latin1');
      data.fill(0, at, stop);
      replacement.copy(data, at);
    }
    at = stop + 1;
  }
  if (removed.length) edits.contents.set(sec.index, data);
  return removed;
}

import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * What `klp-split build` leaves next to the split sources for `verify`:
 * the kernel tree, the layout probe and the modules it built.
 */
export const BUILD_RECORD = '.klp-split/build.json';

export interface BuiltModule {
  module: string;
  /** Path of the .ko; relative to the build directory in the record. */
  ko: string;
}

export interface BuildRecord {
  kdir: string;
  release: string;
  overlayInclude?: string;
  /** Module holding the livepatch structures' layout for this kernel. */
  layoutModule?: string;
  symvers: string;
  modules: BuiltModule[];
  /**
   * Livepatch relocations the build wrote (added by the klp-relocs pass):
   * per rewritten module, its `.klp.sym` symbols and `.klp.rela` sections.
   */
  relocations?: { module: string; ko: string; symbols: { name: string; klpName: string; object: string; sympos: number }[]; sections: Record<string, number>; droppedDepends: string[] }[];
}

export function readBuildRecord(dir: string): BuildRecord | undefined {
  const path = join(dir, BUILD_RECORD);
  if (!existsSync(path)) return undefined;
  const record = JSON.parse(readFileSync(path, 'utf8')) as BuildRecord;
  // Paths are stored relative to the directory so a restored copy still works.
  return {
    ...record,
    layoutModule: record.layoutModule ? resolve(dir, record.layoutModule) : undefined,
    modules: record.modules.map((m) => ({ ...m, ko: resolve(dir, m.ko) })),
  };
}

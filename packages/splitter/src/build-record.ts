import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * What `klp-split build` leaves next to the split sources for `verify`:
 * the kernel tree, the layout probe and the modules it built.
 */
export const BUILD_RECORD = '.klp-split/build.json';

export interface BuiltModule {
  module: string;
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
}

export function readBuildRecord(dir: string): BuildRecord | undefined {
  const path = join(dir, BUILD_RECORD);
  if (!existsSync(path)) return undefined;
  return JSON.parse(readFileSync(path, 'utf8')) as BuildRecord;
}

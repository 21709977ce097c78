import { layoutSections } from './relocate.js';
import type { ModuleImage } from '../image/module-image.js';

/** Start and end of the x86-64 module area (MODULES_VADDR, MODULES_END without KASLR). */
export const MODULES_VADDR = 0xffffffffc0000000n;
const MODULES_END = 0xffffffffff000000n;
const PAGE = 0x1000n;

const sizes = new WeakMap<ModuleImage, bigint>();

/** Bytes the image's allocated sections take, rounded up to whole pages. */
export function imageSize(image: ModuleImage): bigint {
  let size = sizes.get(image);
  if (size === undefined) {
    let end = 0n;
    const addresses = layoutSections(image, 0n);
    for (const s of image.elf.sections) {
      const at = addresses.get(s.index);
      if (at !== undefined && at + BigInt(s.size) > end) end = at + BigInt(s.size);
    }
    size = ((end + PAGE - 1n) / PAGE) * PAGE || PAGE;
    sizes.set(image, size);
  }
  return size;
}

/**
 * The module area as module_alloc() hands it out: a module gets the first
 * free range that fits (plus a guard page) and gives it back when it is
 * freed, so loading and unloading a module any number of times reuses the
 * same addresses instead of walking off the end of the area.
 */
export class ModuleSpace {
  /** Ranges in use, sorted by start. */
  private ranges: { start: bigint; end: bigint; owner: string }[] = [];

  constructor(
    readonly start = MODULES_VADDR,
    readonly end = MODULES_END,
  ) {}

  alloc(owner: string, size: bigint): bigint | undefined {
    const need = size + PAGE;
    let at = this.start;
    let i = 0;
    for (; i < this.ranges.length; i++) {
      const r = this.ranges[i]!;
      if (r.start - at >= need) break;
      at = r.end;
    }
    if (this.end - at < need) return undefined;
    this.ranges.splice(i, 0, { start: at, end: at + need, owner });
    return at;
  }

  free(owner: string): void {
    this.ranges = this.ranges.filter((r) => r.owner !== owner);
  }

  inUse(): number {
    return this.ranges.length;
  }

  clone(): ModuleSpace {
    const copy = new ModuleSpace(this.start, this.end);
    copy.ranges = [...this.ranges];
    return copy;
  }
}

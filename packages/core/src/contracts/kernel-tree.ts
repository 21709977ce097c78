import { join } from 'node:path';
import { cacheDir, createCacheDir } from './cache-dir.js';

/** stock: the upstream livepatch API; split: the tree's own linux/livepatch.h carries the split API (the split kernel). */
export type KernelKind = 'stock' | 'split';

/**
 * The kernel a command builds, splits or verifies against: resolved once from
 * --kernel, --kdir or the environment (@klp-split/kernel-facts'
 * discoverKernelTree) and passed down, so every stage sees the same tree.
 */
export interface KernelTree {
  /** The kbuild tree modules are built against (`make -C <dir> M=...`). */
  dir: string;
  /** How it was found: '--kdir', '--kernel', 'KDIR', 'kernel-env', '/lib/modules', or a marker's "kdir". */
  source: string;
  release: string;
  /** The tree's Module.symvers. */
  symvers: string;
  /** The tree's linux/livepatch.h. */
  livepatchHeader: string;
  /** The tree and the trees its Makefile includes (Debian's per-flavour headers include a common one): where headers are. */
  sourceDirs: string[];
  kind: KernelKind;
  /** The release's /proc/kallsyms dump, when there is one. */
  kallsyms?: string;
  /**
   * klp-split's cache directory (overlays, layout probes, kallsyms dumps);
   * absent when the environment names none, which only commands that write
   * there report (treeCacheDir()).
   */
  cacheDir?: string;
}

/** The tree's cache directory, created and checked writable; an environment error when there is none. */
export function treeCacheDir(tree: KernelTree): string {
  return createCacheDir(tree.cacheDir ?? cacheDir());
}

/** Where `scripts/qemu-kernel.sh kallsyms` and `klp-split kernel add` leave a release's /proc/kallsyms dump. */
export function kallsymsDumpFile(cacheDir: string, release: string): string {
  return join(cacheDir, `kallsyms-${release}.txt`);
}

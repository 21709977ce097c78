import { preprocessWithKbuild } from '@klp-split/kbuild-gen';
import { discoverKernelTree, includeDirs } from '@klp-split/kernel-facts';
import type { KernelTree } from '@klp-split/core';

/**
 * The kernel tree whose headers a split or a convert reads, resolved once:
 * the one --kdir or --kernel names (an error when it is not a tree), else
 * the environment's when there is one (none: keep all includes, no
 * preprocessor).
 */
export function splitKernelTree(opts: { kdir?: string; kernel?: string }): KernelTree | undefined {
  try {
    return discoverKernelTree({ ...opts, install: false });
  } catch (e) {
    if (opts.kdir || opts.kernel) throw e;
    return undefined;
  }
}

/** The kernel's include directories when a tree is at hand; none (keep all includes) otherwise. */
export function kernelIncludeDirs(tree: KernelTree | undefined): string[] {
  return tree ? includeDirs(tree) : [];
}

/** kbuild's preprocessor, for names and conditions only the compiler can evaluate; undefined without a tree. */
export function kbuildPreprocessor(tree: KernelTree | undefined): ((path: string, source: string) => string | undefined) | undefined {
  return tree && ((path, source) => preprocessWithKbuild(tree, path, source));
}

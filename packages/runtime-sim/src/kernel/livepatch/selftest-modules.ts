import type { KlpPatchImage } from '../../klp/structures.js';
import type { ModuleLoader } from '../loader.js';

/**
 * What the kernel's selftest modules (lib/livepatch/test_klp_*.c) decide in
 * their own code from module parameters: C the simulator cannot run, so
 * their effect is modelled here, outside the livepatch core.
 */

/**
 * test_klp_atomic_replace / test_klp_state*: `replace=` sets klp_patch.replace
 * at init; test_klp_callbacks_demo*: `pre_patch_ret=` is what the pre-patch
 * callbacks return.
 */
export function patchParams(kernel: ModuleLoader, module: string, image: KlpPatchImage): { replace: boolean; preRet?: number } {
  const replaceParam = kernel.param(module, 'replace');
  const preRet = kernel.param(module, 'pre_patch_ret');
  return { replace: replaceParam !== undefined ? replaceParam !== '0' : image.replace, ...(preRet !== undefined ? { preRet: Number(preRet) } : {}) };
}

/** test_klp_callbacks_busy with block_transition=Y parks a task in busymod_work_func. */
export function busyModuleBlocks(kernel: ModuleLoader, object: string, func: string): boolean {
  return func === 'busymod_work_func' && kernel.param(object, 'block_transition') === 'Y';
}

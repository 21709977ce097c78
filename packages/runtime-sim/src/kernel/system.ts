import type { ModuleImage } from '../image/module-image.js';
import type { KlpLayout } from '../klp/layout.js';
import { SimKernel } from './kernel.js';
import type { SymbolSource } from './object-symbols.js';
import type { ExportedSymbol } from '@klp-split/kernel-facts';

/** Everything a simulated kernel is made of; cheap to instantiate many kernels from. */
export interface SimSystem {
  layout: KlpLayout;
  vmlinuxExports: Map<string, ExportedSymbol>;
  vmlinuxSymbols: SymbolSource;
  /** Modules modprobe can find. */
  images: ModuleImage[];
}

/** Exports a kernel carrying the split series adds. */
const SPLIT_API_EXPORTS = ['klp_add_object'];

export function newKernel(sys: SimSystem): SimKernel {
  const kernel = new SimKernel({
    layout: sys.layout,
    vmlinuxExports: sys.vmlinuxExports,
    vmlinuxSymbols: sys.vmlinuxSymbols,
    extraVmlinuxExports: SPLIT_API_EXPORTS,
  });
  for (const image of sys.images) kernel.install(image);
  return kernel;
}

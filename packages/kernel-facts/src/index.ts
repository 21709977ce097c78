export * from './elf/reader.js';
export * from './elf/module-info.js';
export * as elfConstants from './elf/constants.js';
export * from './kallsyms.js';
export * from './symvers.js';
export * from './klp-names.js';
export * from './static-key-sections.js';
export * from './kernel-tree.js';
export * from './installed-kernels.js';

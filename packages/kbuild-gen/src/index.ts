export * from './build.js';
export * from './compiler-output.js';
export * from './kbuild-file.js';
export * from './kernel-tree.js';
export * from './layout-probe.js';
export * from './overlay.js';
export * from './makefile-convert.js';
export * from './preprocess.js';

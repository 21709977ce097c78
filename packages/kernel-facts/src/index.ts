/** The package's public API: what the other packages, the tests and the benchmarks use. */
export * as elfConstants from './elf/constants.js';
export { readModinfo, readThisModuleName, readVersions } from './elf/module-info.js';
export { ElfError, type ElfFile, type ElfRela, type ElfRelocSection, type ElfSection, type ElfSymbol, readElf, sectionByName, sectionData } from './elf/reader.js';
export { checkRelease, headersDir, installedKernel, type InstalledKernel, installedKernels, RELEASE, unpackRoot } from './installed-kernels.js';
export { defaultKallsymsFile, Kallsyms, parseKallsyms, readKallsyms, VMLINUX } from './kallsyms.js';
export { checkKernelTree, discoverKernelTree, includeDirs, kernelEnv } from './kernel-tree.js';
export { KLP_ANNOTATION_PREFIX, KLP_MODULE_RELOCS_PREFIX, klpRelaName, klpSymName, moduleName, objectNameProblem, parseAnnotationName, parseKlpRelaName, parseKlpSymName, scanKlpRelaName, scanKlpSymName, symbolNameProblem } from './klp-names.js';
export { STATIC_KEY_SECTIONS } from './static-key-sections.js';
export { type ExportedSymbol, loadSymvers, parseSymvers } from './symvers.js';

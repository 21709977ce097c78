/** The package's public API: what the other packages, the tests and the benchmarks use. */
export { patchObjects, type PatchRole } from './classify.js';
export { SHF_INFO_LINK } from './elf-writer.js';
export { loadFacts, splitterFacts } from './facts.js';
export { listLivepatchRelocations } from './list.js';
export { guessRole, rewriteModuleFile, type RewriteOutcome } from './rewrite-file.js';
export { SourceIndex } from './source-lines.js';

/** The package's public API: what the other packages, the tests and the benchmarks use. */
export { compositeModules, localHeaderDirs, splitLivepatch, splitModule } from './multi-file.js';
export { parseC, type SyntaxNode } from './parse.js';
export { placementViolations, type PlacementViolation } from './placement-check.js';
export { lineIndex } from './items.js';
export { declaredName, innermostKind } from './declarators.js';
export { syscallDefinitions, syscallEntryPoints, syscallFunctionName, type SyscallDefinition } from './syscall-define.js';
export { splitFile, type SplitResult, splitSource } from './split.js';
export { outputBytes, previousGenerated, splitOutputBytes } from './write.js';
export { relocAnnotations, type RelocAnnotation } from './reloc-annotations.js';

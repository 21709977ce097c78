export * from './diagnostics.js';
export * from './manifest.js';
export * from './split.js';
export * from './write.js';
export { TOOL_NAME, TOOL_VERSION } from './version.js';
export { parseC, reportSyntaxErrors, type SyntaxNode, type Tree } from './parse.js';
export { maskAnnotations } from './mask.js';
export { compositeModules, compositeOf, localHeaderDirs, moduleOfFiles, splitLivepatch, splitModule } from './multi-file.js';
export * from './source-map.js';

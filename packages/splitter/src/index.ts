export * from './manifest.js';
export * from './split.js';
export * from './write.js';
export { parseC, reportSyntaxErrors } from './parse.js';
export { maskAnnotations } from './mask.js';
export { compositeModules, compositeOf, moduleOfFiles, splitLivepatch, splitModule } from './multi-file.js';

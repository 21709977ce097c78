/** The package's public API: what the other packages, the tests and the benchmarks use. */
export { buildModules, type BuildResult, buildSplit, buildTree, stockLayoutProbe } from './build.js';
export { type BuildCommandResult, runBuild } from './command/build-command.js';
export { BUILD_COMMAND, type BuildCommandOptions } from './command/build-options.js';
export { dropFromComposite } from './composite-edit.js';
export { parseBuildOutput } from './compiler-output.js';
export { kbuildText, type KbuildModule, modulesOfManifest, modulesOfParts } from './kbuild-file.js';
export { classicObjects, type ModuleRelocs, undefinedReports } from './livepatch-relocs.js';
export { type ConvertedLivepatch, convertMakefile } from './makefile-convert.js';
export { prepareAnnotationsOverlay, prepareOverlay } from './overlay.js';
export { preprocessWithKbuild } from './preprocess.js';

/** The package's public API: what the other packages, the tests and the benchmarks use. */
export { confinePath } from './confine.js';
export { buildInputs, staleness } from './contracts/build-freshness.js';
export { BUILD_RECORD, type BuildRecord, buildRecordText, type BuiltModule, LAYOUT_MODULE, readBuildRecord } from './contracts/build-record.js';
export { cacheDir, ensureCacheDir } from './contracts/cache-dir.js';
export { CALLBACK_KINDS, type CallbackKind, isCallbackKind } from './contracts/callbacks.js';
export { kallsymsDumpFile, type KernelKind, type KernelTree, treeCacheDir } from './contracts/kernel-tree.js';
export { LAYOUT_SIZEOF, layoutSymbolName, parseLayoutSymbolName, REQUIRED_LAYOUT_STRUCTS, SPLIT_LAYOUT_FIELDS, STOCK_LAYOUT_FIELDS } from './contracts/layout-probe.js';
export { buildManifest, builtParts, isSymbolName, MANIFEST_FILE, type ManifestPart, type ManifestSourceMap, type ManifestState, manifestText, parseManifest, readManifest, type SplitManifest } from './contracts/manifest.js';
export { type SymbolFacts } from './contracts/symbol-facts.js';
export { kbuildModuleName, MODULE_NAME_LEN, objectNameProblem, patchNameProblem, perObjectFileBase, perObjectModuleName } from './contracts/module-name.js';
export { type Diagnostic, DiagnosticSink, formatDiagnostic, hasErrors, type Severity } from './diagnostics.js';
export { EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, exitCodeFor, formatThrown, KlpError, UsageError } from './errors.js';
export { parseJsonInput, readInput, readInputText, readSourceText } from './read-input.js';
export { decodeLines, encodeLines, type LineOrigin, originalLine } from './source-map.js';
export { TOOL_NAME, TOOL_VERSION } from './version.js';
export { contentHash } from './write/hash.js';
export { JOURNAL_FILE } from './write/names.js';
export { withWriteTransaction, writeDir, type WriteReport } from './write/transaction.js';

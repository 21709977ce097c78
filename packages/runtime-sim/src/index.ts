/** The package's public API: what the other packages, the tests and the benchmarks use. */
export { parseBudget } from './check/budget.js';
export { commandOrders, CommandWalk } from './check/commands.js';
export { counterexampleScenario } from './check/counterexample.js';
export { checkSplit } from './check/decompose.js';
export { type Entity } from './check/model.js';
export { explore } from './explore/explorer.js';
export { clearModuleImageCache, loadModuleImage, type ModuleImage } from './image/module-image.js';
export { type LivepatchGuards } from './kernel/livepatch/types.js';
export { vmlinuxSymbolSource } from './kernel/object-symbols.js';
export { newKernel, type SimSystem } from './kernel/system.js';
export { readLayout } from './klp/layout.js';
export { parseScenario, readScenario, type Step } from './scenario/parse.js';
export { runScenario, type ScenarioResult } from './scenario/run.js';
export { loadSplitSystem } from './verify/load-system.js';
export { formatVerifyJunit } from './verify/report-junit.js';
export { formatVerifySarif } from './verify/report-sarif.js';
export { formatVerifyText } from './verify/report-text.js';
export { type VerifyReport, verifySplit } from './verify/verify.js';

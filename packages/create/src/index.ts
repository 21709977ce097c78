/** The package's public API: what the other packages, the tests and the benchmarks use. */
export { createLivepatch, type CreateResult } from './create.js';
export { type CreateOptions } from './options.js';

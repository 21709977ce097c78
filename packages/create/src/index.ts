/** The package's public API: what the other packages, the tests and the benchmarks use. */
export { createLivepatch, type CreateResult } from './create.js';
export { CREATE_OPTIONS_SCHEMA, type CreateOptions } from './options.js';

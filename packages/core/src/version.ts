/** Recorded in generated files and manifests; part of the Nx cache key. */
export const TOOL_NAME = 'klp-split';
export const TOOL_VERSION = '0.1.0';

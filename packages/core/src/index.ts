export * from './errors.js';
export * from './confine.js';
export * from './read-input.js';
export * from './write/index.js';
export * from './contracts/index.js';
export * from './diagnostics.js';
export * from './source-map.js';
export { TOOL_NAME, TOOL_VERSION } from './version.js';

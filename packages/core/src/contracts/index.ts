export * from './build-freshness.js';
export * from './build-record.js';
export * from './cache-dir.js';
export * from './callbacks.js';
export * from './layout-probe.js';
export * from './manifest.js';
export * from './module-name.js';

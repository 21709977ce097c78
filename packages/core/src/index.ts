export * from './errors.js';
export * from './confine.js';
export * from './read-input.js';
export * from './write/index.js';
export * from './contracts/index.js';

// @fae/core component: one folder format for every model (config.json + model.safetensors) and the
// registry that maps a class name (or an upstream config.json) to how it is built and loaded.
export * from './format.js';
export * from './registry.js';
export * from './open.js';
export * from './load.js';
export * from './save.js';

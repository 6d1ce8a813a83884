// @fae/core nn: barrel (append one export line per file)
export * from './layout.js';
export * from './module.js';
export * from './init.js';
export * from './linear.js';
export * from './norm.js';
export * from './activations.js';
export * from './mlp.js';
export * from './attention.js';

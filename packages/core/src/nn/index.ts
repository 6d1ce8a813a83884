// @fae/core nn: barrel (append one export line per file)
export * from './layout.js';
export * from './module.js';
export * from './init.js';
export * from './linear.js';
export * from './norm.js';
export * from './activations.js';
export * from './mlp.js';
export * from './attention.js';
export * from './kv-cache.js';
export * from './conv.js';
export * from './swiglu.js';
export * from './rope.js';
export * from './embeddings.js';
export * from './mha.js';
export * from './dropout.js';
export * from './posembed-interp.js';

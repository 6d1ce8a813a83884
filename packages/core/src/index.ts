// @fae/core: backends, weights IO, hub loading, the Module system, layers, training utilities, images.
export * from './errors.js';
export * from './backend/init.js';
export * from './io/store.js';
export * from './io/dtypes.js';
export * from './io/safetensors.js';
export * from './nn/layout.js';
export * from './nn/module.js';
export * from './nn/init.js';
export * from './nn/linear.js';
export * from './nn/norm.js';
export * from './nn/activations.js';
export * from './nn/mlp.js';
export * from './nn/attention.js';

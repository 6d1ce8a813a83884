// @fae/core: backends, weights IO, hub loading, the Module system, layers, training utilities, images.
// (Its .d.ts also references tfjs-core's chained-op types: packages/core/tsup.config.ts.)
import './register-gradients.js';
export * from './errors.js';
export * from './backend/init.js';
export * from './io/index.js';
export * from './hub/index.js';
export * from './component/index.js';
export * from './nn/index.js';
export * from './train/index.js';
export * from './image/index.js';
export * from './backend/wasm-threads-node.js';
export * from './backend/wasm-kernels.js';
export * from './webgpu/register.js';
export * from './ops/many.js';
export * from './webgpu/index.js';
export * from './quant/index.js';
export * from './shards.js';

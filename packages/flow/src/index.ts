// @fae/flow: TARFlow / STARFlow autoregressive normalizing flows on latents [B, h, w, c] (NHWC).
// Importing the package registers TarFlow with @fae/core's component registry.
export * from './config.js';
export * from './permutation.js';
export * from './guidance.js';
export * from './flow-attention.js';
export * from './flow-mlp.js';
export * from './attention-block.js';
export * from './meta-block.js';
export * from './rope.js';
export * from './tarflow.js';
export * from './denoise.js';
export * from './sample.js';
export * from './train.js';
export * from './classify.js';
export * from './presets.js';
export * from './components.js';

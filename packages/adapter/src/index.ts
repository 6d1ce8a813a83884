// @fae/adapter: FAE's encoder (a single attention layer over frozen patch features -> a Gaussian
// latent), its KL, latent statistics, presets and component checkpoints. Importing the package
// registers SingleAttentionEncoder with @fae/core's component registry.
export * from './config.js';
export * from './gaussian.js';
export * from './frozen.js';
export * from './single-attention-encoder.js';
export * from './latent-stats.js';
export * from './presets.js';
export * from './components.js';
export * from './encoder-checkpoint.js';

// @fae/decoders: FAE's feature decoder and pixel decoder, the FeatureAutoEncoder (adapter + feature
// decoder), their losses, the feature cache and the training stages Ib, Ia and II. Importing the
// package registers its components with @fae/core's registry.
export * from './config.js';
export * from './feature-decoder.js';
export * from './pixel-decoder.js';
export * from './feature-autoencoder.js';
export * from './losses.js';
export * from './patch-discriminator.js';
export * from './pixel-objective.js';
export * from './pixel-objective-presets.js';
export * from './feature-cache.js';
export * from './train-stages.js';
export * from './components.js';
export * from './checkpoints.js';
export * from './presets.js';

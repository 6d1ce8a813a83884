// @fae/encoders: DINOv2 and SigLIP/SigLIP2 vision encoders that load Hugging Face checkpoints.
// Importing the package registers Dinov2Model and SiglipVisionTransformer with @fae/core's component registry.
export * from './configs.js';
export * from './patch-embedding.js';
export * from './attention.js';
export * from './vit-backbone.js';
export * from './dinov2/dinov2-layer.js';
export * from './dinov2/dinov2-embeddings.js';
export * from './dinov2/dinov2-model.js';
export * from './siglip/siglip-layers.js';
export * from './siglip/siglip-pooling-head.js';
export * from './siglip/siglip-vision-model.js';
export * from './feature-encoder.js';
export * from './registry.js';
export * from './presets.js';
export * from './load-encoder.js';
export * from './components.js';

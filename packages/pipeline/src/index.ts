// @fae/pipeline: FAE end to end. FaePipeline (images -> latents -> images, generation with any
// LatentGenerator), streaming datasets (image folders, WebDataset tar shards, MNIST), on-disk
// feature / latent caches, and training recipes run by one resumable trainPipeline().
export * from './preprocess.js';
export * from './generator.js';
export * from './components.js';
export * from './fae-pipeline.js';
export * from './datasets/index.js';
export * from './recipes/index.js';
export * from './cache.js';
export * from './train/mim.js';
export * from './train/train-pipeline.js';
export { MissingPerceptualLossError, loadLpips, buildPixelObjective, describeObjective, type LpipsWeightsSource } from './train/pixel-objective.js';
export * from './evaluate.js';
export * from './image-files.js';
export * from './shards.js';
export * from './train/data-parallel.js';

// @fae/eval: FID / sFID / Inception Score / precision-recall (the FID Inception-v3), LPIPS,
// PSNR / SSIM and linear probes on TensorFlow.js. Tensors are NHWC; statistics are float64.
export * from './procedural-weights.js';
export * from './weights-source.js';
export * from './inception/resize-tf1.js';
export * from './inception/inception-blocks.js';
export * from './inception/inception-v3.js';
export * from './linalg/symmetric-eigen.js';
export * from './linalg/dense.js';
export * from './fid/frechet.js';
export * from './fid/statistics.js';
export * from './fid/statistics-file.js';
export * from './metrics/inception-score.js';
export * from './metrics/precision-recall.js';
export * from './metrics/psnr-ssim.js';
export * from './lpips/vgg16-features.js';
export * from './lpips/lpips.js';
export * from './probe/linear-probe.js';
export * from './cli/image-batches.js';
export * from './evaluate.js';

// @fae/core image: barrel (append one export line per file)
export {};
export * from './raw-image.js';
export * from './codecs.js';
export * from './resample-weights.js';
export * from './resize-image.js';
export * from './resize-tensor.js';
export * from './transforms.js';
export * from './convert.js';
export * from './image-processor.js';
export * from './bitmap-font.js';
export * from './image-grid.js';

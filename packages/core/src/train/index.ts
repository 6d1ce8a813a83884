// @fae/core train: barrel (append one export line per file)
export {};
export * from './rng.js';
export * from './grads.js';
export * from './adamw.js';
export * from './schedule.js';
export * from './clip.js';
export * from './ema.js';
export * from './accumulate.js';
export * from './guard.js';
export * from './checkpoint.js';
export * from './data.js';
export * from './trainer.js';
export * from './mulberry32.js';
export * from './fused-update.js';
export * from './replicas.js';

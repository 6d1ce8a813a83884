// @fae/core webgpu: FAE's fused WebGPU ops (register.ts is exported from the package root directly).
export { fusedAttention, fusedAttentionSupported, fusedAttentionUnsupportedReason, type FusedAttentionOptions } from './fused-attention.js';
export { fusedNorm, fusedNormSupported, fusedNormUnsupportedReason, type FusedNormParams } from './fused-norm.js';
export { linearActivation, linearActivationSupported, linearActivationUnsupportedReason, type LinearActivation } from './fused-linear.js';
export { SPLIT_REDUCE_POLICY, splitPlan, splitReduceStats } from './reduce-split.js';
export { installQueueUploads, uninstallQueueUploads, queueUploadStats } from './uploads.js';

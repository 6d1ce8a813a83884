// Fixed parameters: PyTorch's `nn.Parameter(..., requires_grad=False)` (DiT, LightningDiT and MAE keep
// their 2-D sin-cos `pos_embed` this way): in the state dict and the parameter count, never trained.
// Module records the flag (ParameterEntry.frozen); these helpers make the common table and set it.
import * as tf from '@tensorflow/tfjs-core';
import { sincosPosEmbed2d } from './embeddings.js';
import type { Module } from './module.js';

/** Marks the parameter `key` (a full state-dict key of `module`) as fixed; see Module.freezeParameter. */
export function freezeParameter(module: Module, key: string): void {
  module.freezeParameter(key);
}

/** The DiT/MAE 2-D sin-cos table as a tensor [1, (extra +) gridH*gridW, dim] (extra tokens get zeros). */
export function sincosTable(dim: number, gridH: number, gridW: number, extraTokens = 0): tf.Tensor3D {
  return tf.tensor3d(sincosPosEmbed2d(dim, [gridH, gridW], { extraTokens }), [1, extraTokens + gridH * gridW, dim]);
}

// Frozen parameters: PyTorch's `nn.Parameter(..., requires_grad=False)` (DiT/LightningDiT/MAE keep
// their fixed sin-cos `pos_embed` this way): in the state dict and in the parameter count, never
// trained (no gradient, no optimizer slot). Module has no API for one parameter, so this flips the
// registered entry.
import * as tf from '@tensorflow/tfjs-core';
import { sincosPosEmbed2d, type Module } from '@fae/core';

/** Marks the parameter `key` (a full state-dict key of `module`) as not trainable. */
export function freezeParameter(module: Module, key: string): void {
  const entry = module.namedParameters().find(([k]) => k === key)?.[1];
  if (!entry) throw new Error(`${module.typeName}: no parameter '${key}' to freeze`);
  entry.trainable = false;
  (entry.variable as { trainable: boolean }).trainable = false;
}

/** The DiT/MAE 2-D sin-cos table as a tensor [1, (extra +) gridH*gridW, dim]. */
export function sincosTable(dim: number, gridH: number, gridW: number, extraTokens = 0): tf.Tensor {
  return tf.tensor3d(sincosPosEmbed2d(dim, [gridH, gridW], { extraTokens }), [1, extraTokens + gridH * gridW, dim]);
}

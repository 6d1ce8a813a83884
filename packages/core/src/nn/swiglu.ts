// SwiGLU feed-forward: out = W_out( silu(x W_gate) * (x W_value) ), with the gate and value projections
// fused into one Linear of 2*hidden outputs whose FIRST half is the gate (silu) and SECOND half the
// value, as in every reference we load:
//   layout 'lightningdit': keys w12 [2*hidden, in] + w3 [out, hidden]   (hustvl/LightningDiT
//                          models/swiglu_ffn.py; also facebookresearch/dinov2 and xformers SwiGLU)
//   layout 'dinov2'      : keys weights_in [2*hidden, in] + weights_out [out, hidden]
//                          (transformers Dinov2SwiGLUFFN / Dinov2WithRegistersSwiGLUFFN)
// The hidden width is given explicitly (LightningDiT's rule is in @fae/diffusion, DINOv2's below).
// Both layouts stay here: @fae/decoders' FeatureDecoder uses the w12 / w3 one too.
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError } from '../errors.js';
import { Module } from './module.js';
import { Linear } from './linear.js';
import { silu } from './activations.js';

export type SwiGLULayout = 'lightningdit' | 'dinov2';

export interface SwiGLUOptions {
  /** Key names of the two projections (default 'lightningdit': w12 / w3). */
  layout?: SwiGLULayout;
  /** Output width (default = in). */
  outFeatures?: number;
  /** Biases on both projections (default true, as both references). */
  bias?: boolean;
  seed?: number;
}

const KEYS: Record<SwiGLULayout, [string, string]> = {
  lightningdit: ['w12', 'w3'],
  dinov2: ['weights_in', 'weights_out'],
};

export class SwiGLUFFN extends Module {
  /** Fused gate|value projection, weight [in, 2*hidden] (torch [2*hidden, in]). */
  readonly fcIn: Linear;
  /** Output projection, weight [hidden, out]. */
  readonly fcOut: Linear;
  readonly layout: SwiGLULayout;
  readonly outFeatures: number;
  constructor(readonly inFeatures: number, readonly hiddenFeatures: number, opts: SwiGLUOptions = {}) {
    super();
    this.layout = opts.layout ?? 'lightningdit';
    const keys = KEYS[this.layout];
    if (!keys) throw new ConfigError('SwiGLUFFN', `unknown layout '${this.layout}' (known: ${Object.keys(KEYS).join(', ')})`);
    if (!(hiddenFeatures > 0)) throw new ConfigError('SwiGLUFFN', `hiddenFeatures must be positive, got ${hiddenFeatures}`);
    this.outFeatures = opts.outFeatures ?? inFeatures;
    this.fcIn = this.addModule(keys[0], new Linear(inFeatures, 2 * hiddenFeatures, { bias: opts.bias, seed: opts.seed }));
    this.fcOut = this.addModule(keys[1], new Linear(hiddenFeatures, this.outFeatures, { bias: opts.bias, seed: opts.seed }));
  }

  /** x: [..., in] -> [..., out] */
  forward(x: tf.Tensor): tf.Tensor {
    const d = x.shape[x.rank - 1];
    if (d !== this.inFeatures) throw new ShapeError('SwiGLUFFN input', `[..., ${this.inFeatures}]`, `[${x.shape}]`);
    return tf.tidy(() => this.fcOut.forward(swiglu(this.fcIn.forward(x)))); // [..., out]
  }
}

/** silu(first half) * second half over the last axis: [..., 2h] -> [..., h]. */
export function swiglu(x12: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const [gate, value] = tf.split(x12, 2, x12.rank - 1); // 2 x [..., h]
    return tf.mul(silu(gate), value); // [..., h]
  });
}

/** DINOv2's (transformers and xformers "fused") hidden width: (int(2/3 * int(dim*ratio)) + 7) // 8 * 8. */
export function dinov2SwiGLUHidden(dim: number, mlpRatio = 4): number {
  const h = Math.trunc(dim * mlpRatio);
  return Math.floor((Math.trunc((h * 2) / 3) + 7) / 8) * 8;
}

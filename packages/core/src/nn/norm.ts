// LayerNorm and RMSNorm over the last axis, with PyTorch's key names (weight, bias) and eps.
import * as tf from '@tensorflow/tfjs-core';
import { Module } from './module.js';
import { init } from './init.js';
import { fusedNorm, fusedNormSupported } from '../webgpu/fused-norm.js';

export interface NormOptions {
  eps?: number;
  /** Learn a per-channel scale (and shift, for LayerNorm). Default true. */
  affine?: boolean;
  /** LayerNorm only: learn the shift (bias). Default = affine. */
  bias?: boolean;
}

export class LayerNorm extends Module {
  readonly eps: number;
  readonly weight: tf.Variable | null; // [D]
  readonly bias: tf.Variable | null; // [D]
  constructor(readonly dim: number, opts: NormOptions = {}) {
    super();
    this.eps = opts.eps ?? 1e-5;
    const affine = opts.affine ?? true;
    this.weight = affine ? this.addParameter('weight', [dim], init.ones()) : null;
    this.bias = affine && (opts.bias ?? true) ? this.addParameter('bias', [dim], init.zeros()) : null;
  }

  /** x: [..., D] -> [..., D] */
  forward(x: tf.Tensor, opts: { affine?: boolean } = {}): tf.Tensor {
    const useAffine = opts.affine ?? true;
    return layerNorm(x, useAffine ? this.weight : null, useAffine ? this.bias : null, this.eps);
  }
}

/** (x - mean) / sqrt(var + eps) * w + b over the last axis (biased variance, as PyTorch). */
export function layerNorm(x: tf.Tensor, w: tf.Tensor | null, b: tf.Tensor | null, eps: number): tf.Tensor {
  const fused = { kind: 'layer' as const, eps, weight: w, bias: b };
  if (fusedNormSupported(x, fused)) return fusedNorm(x, fused); // webgpu + FAE kernels: one dispatch
  return tf.tidy(() => {
    const axis = x.rank - 1;
    const mean = tf.mean(x, axis, true); // [..., 1]
    const xc = tf.sub(x, mean);
    const variance = tf.mean(tf.square(xc), axis, true); // [..., 1]
    let y = tf.mul(xc, tf.rsqrt(tf.add(variance, eps)));
    if (w) y = tf.mul(y, w);
    if (b) y = tf.add(y, b);
    return y;
  });
}

export class RMSNorm extends Module {
  readonly eps: number;
  readonly weight: tf.Variable | null; // [D]
  constructor(readonly dim: number, opts: NormOptions = {}) {
    super();
    this.eps = opts.eps ?? 1e-6;
    this.weight = (opts.affine ?? true) ? this.addParameter('weight', [dim], init.ones()) : null;
  }

  /** x: [..., D] -> [..., D] */
  forward(x: tf.Tensor): tf.Tensor {
    return rmsNorm(x, this.weight, this.eps);
  }
}

/** x / sqrt(mean(x^2) + eps) * w over the last axis. */
export function rmsNorm(x: tf.Tensor, w: tf.Tensor | null, eps: number): tf.Tensor {
  const fused = { kind: 'rms' as const, eps, weight: w };
  if (fusedNormSupported(x, fused)) return fusedNorm(x, fused); // webgpu + FAE kernels: one dispatch
  return tf.tidy(() => {
    const ms = tf.mean(tf.square(x), x.rank - 1, true); // [..., 1]
    const y = tf.mul(x, tf.rsqrt(tf.add(ms, eps)));
    return w ? tf.mul(y, w) : y;
  });
}

// Linear: y = x W + b over the last axis. Weight stored [in, out] (PyTorch's [out, in] transposed
// once at load), so the forward is a plain 2-D matmul: the fast path on every backend.
import * as tf from '@tensorflow/tfjs-core';
import { Module } from './module.js';
import { init as inits } from './init.js';

export interface LinearOptions {
  bias?: boolean;
  /** Initialiser of the [in, out] weight; default PyTorch's U(+-1/sqrt(in)). */
  weightInit?: (shape: number[]) => tf.Tensor;
  biasInit?: (shape: number[]) => tf.Tensor;
  seed?: number;
}

export class Linear extends Module {
  readonly weight: tf.Variable; // [in, out]
  readonly bias: tf.Variable | null; // [out]
  constructor(readonly inFeatures: number, readonly outFeatures: number, opts: LinearOptions = {}) {
    super();
    this.weight = this.addParameter('weight', [outFeatures, inFeatures], opts.weightInit ?? inits.torchDefault(inFeatures, opts.seed), 'linear');
    this.bias = opts.bias === false ? null : this.addParameter('bias', [outFeatures], opts.biasInit ?? inits.torchDefault(inFeatures, opts.seed));
  }

  /** x: [..., in] -> [..., out] */
  forward(x: tf.Tensor): tf.Tensor {
    return linear(x, this.weight, this.bias);
  }
}

/** x: [..., in] @ w: [in, out] (+ b: [out]) -> [..., out], batch dims folded into rows. */
export function linear(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor | null): tf.Tensor {
  return tf.tidy(() => {
    const inF = x.shape[x.shape.length - 1];
    const lead = x.shape.slice(0, -1);
    const x2 = x.rank === 2 ? x : tf.reshape(x, [-1, inF]); // [N, in]
    let y = matMulFast(x2, w); // [N, out]
    if (b) y = tf.add(y, b);
    return x.rank === 2 ? y : tf.reshape(y, [...lead, w.shape[1]!]);
  });
}

/**
 * a: [N, K] @ b: [K, M] -> [N, M]. On wasm, tfjs's own matMul gradient multiplies with transpose
 * flags, which fall off XNNPACK's fast path (10-50x slower); here the gradient transposes explicitly
 * and multiplies plainly: dA = dY @ B^T, dB = A^T @ dY. Other backends use tf.matMul as is.
 */
export function matMulFast(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  if (tf.getBackend() !== 'wasm') return tf.matMul(a, b);
  return plainGradMatMul(a as tf.Tensor2D, b as tf.Tensor2D);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const plainGradMatMul = tf.customGrad(((a: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
  save([a, b]);
  return {
    value: tf.matMul(a, b), // [N, M]
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sa, sb] = saved;
      return [tf.matMul(dy, tf.transpose(sb)), tf.matMul(tf.transpose(sa), dy)]; // [N, K], [K, M]
    },
  };
}) as any) as unknown as (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D;

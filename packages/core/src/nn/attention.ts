// Scaled dot-product attention, the kernel every transformer here calls.
import * as tf from '@tensorflow/tfjs-core';
import { fusedAttention, fusedAttentionSupported } from '../webgpu/fused-attention.js';

export interface AttentionOptions {
  /** Multiplies q.k; default 1/sqrt(headDim). Attention temperature T is scale / T. */
  scale?: number;
  /** Mask query i from keys j > i + (Tk - Tq) (so it also works with a KV cache). */
  causal?: boolean;
  /** Additive mask broadcastable to [B, H, Tq, Tk] (use -Infinity or a large negative to block). */
  mask?: tf.Tensor;
}

/**
 * q: [B, H, Tq, Dh], k: [B, H, Tk, Dh], v: [B, H, Tk, Dv] -> [B, H, Tq, Dv]
 * softmax(q k^T * scale + mask) v, in float32.
 */
export function scaledDotProductAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, opts: AttentionOptions = {}): tf.Tensor {
  // webgpu with FAE's kernels registered: one fused op (online softmax, fused backward)
  if (!opts.mask && fusedAttentionSupported(q, k, v, opts)) return fusedAttention(q, k, v, opts);
  return tf.tidy(() => {
    const dh = q.shape[3]!;
    const tq = q.shape[2]!;
    const tk = k.shape[2]!;
    const scale = opts.scale ?? 1 / Math.sqrt(dh);
    let scores = tf.mul(tf.matMul(q, k, false, true), scale); // [B, H, Tq, Tk]
    if (opts.mask) scores = tf.add(scores, opts.mask);
    if (opts.causal) scores = tf.add(scores, causalMask(tq, tk));
    const probs = tf.softmax(scores, -1);
    return tf.matMul(probs, v); // [B, H, Tq, Dv]
  });
}

/** Additive causal mask [Tq, Tk]: 0 where key j <= i + (Tk - Tq), -1e9 elsewhere (finite: no NaN rows). */
export function causalMask(tq: number, tk: number): tf.Tensor2D {
  const offset = tk - tq;
  const m = new Float32Array(tq * tk);
  for (let i = 0; i < tq; i++) for (let j = 0; j < tk; j++) if (j > i + offset) m[i * tk + j] = -1e9;
  return tf.tensor2d(m, [tq, tk]);
}

/** [B, T, H*Dh] -> [B, H, T, Dh] */
export function splitHeads(x: tf.Tensor, heads: number): tf.Tensor {
  const [b, t, d] = x.shape;
  return tf.transpose(tf.reshape(x, [b, t, heads, d / heads]), [0, 2, 1, 3]);
}

/** [B, H, T, Dh] -> [B, T, H*Dh] */
export function mergeHeads(x: tf.Tensor): tf.Tensor {
  const [b, h, t, dh] = x.shape;
  return tf.reshape(tf.transpose(x, [0, 2, 1, 3]), [b, t, h * dh]);
}

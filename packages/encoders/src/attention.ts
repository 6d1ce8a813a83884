// Multi-head scaled dot-product attention on [B, T, D] tokens (eager attention as in transformers:
// softmax(q k^T / sqrt(Dh)) v in float32). k is transposed explicitly so every matmul is a plain one.
// On wasm, batched matmuls fall off XNNPACK's fast path, so each (batch, head) pair is multiplied
// as a 2-D matmul on contiguous slices (about 3.5x faster for ViT-S there); other backends go
// through core's scaledDotProductAttention (batched, or fused where core registers a kernel).
import * as tf from '@tensorflow/tfjs-core';
import { scaledDotProductAttention } from '@fae/core';

/** [B, T, H*Dh] -> [B*H, T, Dh] (or [B*H, Dh, T] with `transposed`) */
function heads(x: tf.Tensor, numHeads: number, transposed = false): tf.Tensor3D {
  const [b, t, d] = x.shape;
  const dh = d / numHeads;
  const split = tf.reshape(x, [b, t, numHeads, dh]); // [B, T, H, Dh]
  return transposed
    ? tf.reshape(tf.transpose(split, [0, 2, 3, 1]), [b * numHeads, dh, t]) // [B*H, Dh, T]
    : tf.reshape(tf.transpose(split, [0, 2, 1, 3]), [b * numHeads, t, dh]); // [B*H, T, Dh]
}

/**
 * q: [B, Tq, D], k and v: [B, Tk, D] (already projected) -> [B, Tq, D], heads concatenated in
 * head order (transformers' `context_layer.reshape(..., all_head_size)`).
 */
export function multiHeadAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, numHeads: number): tf.Tensor {
  return tf.tidy(() => {
    const [b, tq, d] = q.shape as [number, number, number];
    const tk = k.shape[1] as number;
    const dh = d / numHeads;
    if (tf.getBackend() !== 'wasm') {
      const split = (x: tf.Tensor, t: number) => tf.transpose(tf.reshape(x, [b, t, numHeads, dh]), [0, 2, 1, 3]); // [B, H, T, Dh]
      const ctx = scaledDotProductAttention(split(q, tq), split(k, tk), split(v, tk)); // [B, H, Tq, Dh]
      return tf.reshape(tf.transpose(ctx, [0, 2, 1, 3]), [b, tq, d]); // [B, Tq, D]
    }
    const qh = heads(tf.mul(q, 1 / Math.sqrt(dh)), numHeads); // [B*H, Tq, Dh]
    const kt = heads(k, numHeads, true); // [B*H, Dh, Tk]
    const vh = heads(v, numHeads); // [B*H, Tk, Dh]
    const parts: tf.Tensor[] = [];
    for (let i = 0; i < b * numHeads; i++) {
      const qi = tf.reshape(tf.slice(qh, [i, 0, 0], [1, tq, dh]), [tq, dh]);
      const ki = tf.reshape(tf.slice(kt, [i, 0, 0], [1, dh, tk]), [dh, tk]);
      const vi = tf.reshape(tf.slice(vh, [i, 0, 0], [1, tk, dh]), [tk, dh]);
      parts.push(tf.matMul(tf.softmax(tf.matMul(qi, ki), -1), vi)); // [Tq, Dh]
    }
    const ctx = tf.stack(parts); // [B*H, Tq, Dh]
    return tf.reshape(tf.transpose(tf.reshape(ctx, [b, numHeads, tq, dh]), [0, 2, 1, 3]), [b, tq, d]); // [B, Tq, D]
  });
}

// Fused scaled-dot-product attention as one tfjs op with a custom gradient. On the webgpu backend,
// with FAE's kernels registered, forward and backward each run as a few fused dispatches (see
// attention-*-program(s).ts); `scaledDotProductAttention` (nn/attention.ts) routes here when it can.
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError } from '../errors.js';
import { ATTENTION_BACKWARD_KERNEL, ATTENTION_FORWARD_KERNEL } from './attention-kernels.js';
import { ATTN_MAX_HEAD_DIM } from './attention-layout.js';
import { faeWebGPUKernelsEnabled } from './kernel-state.js';

export interface FusedAttentionOptions {
  /** Multiplies q.k; default 1/sqrt(headDim). */
  scale?: number;
  /** Query i sees keys j <= i + (Tk - Tq) (needs Tk >= Tq). */
  causal?: boolean;
}

/**
 * Why the fused kernels cannot run this call, or null when they can: webgpu backend with FAE's
 * kernels registered, float32 q [B,H,Tq,D], k/v [B,H,Tk,D] with equal B, H, D (D <= 128, a multiple
 * of 4), and for
 * causal Tk >= Tq. (An additive mask is not supported: callers check that themselves.)
 */
export function fusedAttentionUnsupportedReason(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, opts: FusedAttentionOptions = {}): string | null {
  if (tf.getBackend() !== 'webgpu') return `backend is '${tf.getBackend()}', not webgpu`;
  if (!faeWebGPUKernelsEnabled() || !tf.getKernel(ATTENTION_FORWARD_KERNEL, 'webgpu')) return 'FAE WebGPU kernels are not registered (registerFaeWebGPUKernels())';
  if (q.rank !== 4 || k.rank !== 4 || v.rank !== 4) return 'q, k, v must be rank 4 [B, H, T, D]';
  if ([q, k, v].some((t) => t.dtype !== 'float32')) return 'q, k, v must be float32';
  const [b, h, tq, d] = q.shape;
  const [bk, hk, tk, dk] = k.shape;
  if (bk !== b || hk !== h || dk !== d) return `k [${k.shape}] does not match q [${q.shape}] in B, H, D`;
  if (v.shape[0] !== b || v.shape[1] !== h || v.shape[2] !== tk || v.shape[3] !== d) return `v [${v.shape}] must be [${b}, ${h}, ${tk}, ${d}]`;
  if (d > ATTN_MAX_HEAD_DIM) return `head dim ${d} > ${ATTN_MAX_HEAD_DIM}`;
  if (d % 4 !== 0) return `head dim ${d} is not a multiple of 4`;
  if (tq === 0 || tk === 0 || d === 0) return 'empty tensor';
  if (opts.causal && tk < tq) return `causal with Tk ${tk} < Tq ${tq} (rows without keys)`;
  if (b * h * Math.max(tq, tk) * d >= 2 ** 31 / 2) return 'too large for 32-bit indexing';
  return null;
}

/** True when `fusedAttention` can run these tensors (see fusedAttentionUnsupportedReason). */
export function fusedAttentionSupported(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, opts: FusedAttentionOptions = {}): boolean {
  return fusedAttentionUnsupportedReason(q, k, v, opts) === null;
}

function tapeIsRecording(): boolean {
  const engine = tf.engine() as unknown as { isTapeOn?: () => boolean };
  return typeof engine.isTapeOn === 'function' ? engine.isTapeOn() : true;
}

/**
 * softmax(q k^T * scale [+ causal mask]) v on the fused WebGPU kernels; throws where they cannot run
 * (use `scaledDotProductAttention`, which falls back to the composite, in model code).
 * q: [B, H, Tq, D], k: [B, H, Tk, D], v: [B, H, Tk, D] -> [B, H, Tq, D]. Differentiable (q, k, v).
 * Outside gradient recording it runs one dispatch; under tf.grad the forward also keeps the
 * log-sum-exp rows for the backward (one more copy).
 */
export function fusedAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, opts: FusedAttentionOptions = {}): tf.Tensor {
  const why = fusedAttentionUnsupportedReason(q, k, v, opts);
  if (why) {
    if (why.startsWith('backend') || why.startsWith('FAE')) throw new ConfigError('fusedAttention', why);
    throw new ShapeError('fusedAttention(q, k, v)', 'float32 [B,H,Tq,D], [B,H,Tk,D], [B,H,Tk,D] with D <= 128, D % 4 == 0 (causal: Tk >= Tq)', why);
  }
  const [b, h, tq, d] = q.shape;
  const attrs = { scale: opts.scale ?? 1 / Math.sqrt(d), causal: !!opts.causal };
  const outShape = [b, h, tq, d];
  const n = b * h * tq * d;
  if (!tapeIsRecording()) {
    return tf.tidy(() => {
      const flat = tf.engine().runKernel(ATTENTION_FORWARD_KERNEL, { q, k, v }, { ...attrs, withLse: false }) as tf.Tensor; // [B*H*Tq*D]
      return tf.reshape(flat, outShape); // [B, H, Tq, D]
    });
  }
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [qi, ki, vi, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const packed = tf.engine().runKernel(ATTENTION_FORWARD_KERNEL, { q: qi, k: ki, v: vi }, { ...attrs, withLse: true }) as tf.Tensor; // [B*H*Tq*D + B*H*Tq]
    const o = tf.reshape(tf.slice(packed, [0], [n]), outShape); // [B, H, Tq, D]
    save([qi, ki, vi, packed]);
    return {
      value: o,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [qs, ks, vs, ps] = saved;
        return tf.engine().runKernel(ATTENTION_BACKWARD_KERNEL, { q: qs, k: ks, v: vs, dy, packed: ps }, attrs) as tf.Tensor[];
      },
    };
  });
  return op(q, k, v);
}

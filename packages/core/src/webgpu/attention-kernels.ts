// tfjs kernel functions (backend 'webgpu') running the fused attention programs. register.ts puts
// them in place under the names below; fused-attention.ts calls them through tf.engine().runKernel.
import type * as tf from '@tensorflow/tfjs-core';
import { attentionForwardProgram } from './attention-forward-program.js';
import { attentionDeltaProgram, attentionGradKVProgram, attentionGradQProgram } from './attention-backward-programs.js';

export const ATTENTION_FORWARD_KERNEL = 'FaeFusedAttention';
export const ATTENTION_BACKWARD_KERNEL = 'FaeFusedAttentionGrad';

export interface KernelArgs {
  inputs: Record<string, tf.TensorInfo>;
  backend: any; // tfjs-backend-webgpu's WebGPUBackend (not imported: library code imports no backend)
  attrs?: Record<string, unknown>;
}

/** [B, H, T, D] -> the same buffer seen as [B*H, T, D]. */
function heads3(t: tf.TensorInfo): tf.TensorInfo {
  const [b, h, n, d] = t.shape;
  return { dataId: t.dataId, shape: [b * h, n, d], dtype: t.dtype };
}

/**
 * `info` seen with another shape of the same size. Like tfjs's Reshape kernel (incRef, then the
 * caller's disposeData of the original) the net reference count is unchanged, so nothing is called.
 */
export function reshapeInfo(info: tf.TensorInfo, shape: number[]): tf.TensorInfo {
  return { dataId: info.dataId, shape, dtype: info.dtype };
}

function scaleCausal(attrs: Record<string, unknown>) {
  return [
    { type: 'float32', data: [attrs.scale as number] },
    { type: 'int32', data: [attrs.causal ? 1 : 0] },
  ];
}

/**
 * inputs q [B,H,Tq,D], k, v [B,H,Tk,D]; attrs {scale, causal, withLse} -> flat float32 holding
 * O [B,H,Tq,D] then (withLse) LSE [B,H,Tq].
 */
export function fusedAttentionForwardKernel({ inputs, backend, attrs = {} }: KernelArgs): tf.TensorInfo {
  const { q, k, v } = inputs;
  const [b, h, tq, d] = q.shape;
  const program = attentionForwardProgram(b * h, tq, d, !!attrs.withLse);
  return backend.runWebGPUProgram(program, [heads3(q), heads3(k), heads3(v)], 'float32', scaleCausal(attrs));
}

/**
 * inputs q, k, v, dy [B,H,Tq,D] and `packed` (the forward's output with LSE); attrs {scale, causal}
 * -> [dq, dk, dv] in the shapes of q, k, v. Four dispatches: Delta, dQ, dV, dK.
 */
export function fusedAttentionBackwardKernel({ inputs, backend, attrs = {} }: KernelArgs): tf.TensorInfo[] {
  const { q, k, v, dy, packed } = inputs;
  const [b, h, tq, d] = q.shape;
  const tk = k.shape[2];
  const bh = b * h;
  const dy3 = heads3(dy);
  const delta = backend.runWebGPUProgram(attentionDeltaProgram(bh, tq), [packed, dy3], 'float32') as tf.TensorInfo;
  const ins = [heads3(q), heads3(k), heads3(v), dy3, packed, delta];
  const u = scaleCausal(attrs);
  const dq = backend.runWebGPUProgram(attentionGradQProgram(bh, tq, d), ins, 'float32', u) as tf.TensorInfo;
  // a fresh program object per run: runWebGPUProgram rewrites its shaderKey
  const dv = backend.runWebGPUProgram(attentionGradKVProgram(bh, tk, d), ins, 'float32', [...u, { type: 'int32', data: [0] }]) as tf.TensorInfo;
  const dk = backend.runWebGPUProgram(attentionGradKVProgram(bh, tk, d), ins, 'float32', [...u, { type: 'int32', data: [1] }]) as tf.TensorInfo;
  backend.disposeData(delta.dataId);
  return [reshapeInfo(dq, q.shape), reshapeInfo(dk, k.shape), reshapeInfo(dv, v.shape)];
}

// Fused LayerNorm / RMSNorm (+ optional adaLN modulation) as tfjs ops: one WebGPU dispatch forward
// (norm-program.ts); the backward is tfjs ops (custom gradient, the analytic formulas), so training
// works on every path. `layerNorm`/`rmsNorm` (nn/norm.ts) route here on webgpu when FAE's kernels
// are registered.
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError } from '../errors.js';
import { NORM_MAX_DIM, normProgram } from './norm-program.js';
import type { KernelArgs } from './attention-kernels.js';
import { faeWebGPUKernelsEnabled } from './kernel-state.js';

export const NORM_KERNEL = 'FaeFusedNorm';

export interface FusedNormParams {
  kind: 'layer' | 'rms';
  eps: number;
  /** [D] or null */
  weight?: tf.Tensor | null;
  /** [D] or null (LayerNorm only) */
  bias?: tf.Tensor | null;
}

/** kernel: inputs {x [N, D], weight?, bias?, shift?, scale?}; attrs {kind, eps, rowsPerBatch} -> [N, D]. */
export function fusedNormKernel({ inputs, backend, attrs = {} }: KernelArgs): tf.TensorInfo {
  const { x, weight, bias, shift, scale } = inputs;
  const [n, d] = x.shape;
  const rms = attrs.kind === 'rms';
  const program = normProgram(n, d, {
    rms,
    hasWeight: !!weight,
    hasBias: !!bias && !rms,
    modulate: scale ? (shift ? 'shift-scale' : 'scale') : 'none',
  });
  const ins = [x, weight, rms ? undefined : bias, scale ? shift : undefined, scale].filter((t): t is tf.TensorInfo => !!t);
  return backend.runWebGPUProgram(program, ins, 'float32', [
    { type: 'float32', data: [attrs.eps as number] },
    { type: 'int32', data: [(attrs.rowsPerBatch as number) || n] },
  ]);
}

/**
 * Why the fused norm cannot run, or null: webgpu with FAE's kernels, float32 x [..., D] with
 * D <= 4096 and a multiple of 4, weight/bias [D]; with modulation x [B, T, D] and scale (shift) [B, D].
 */
export function fusedNormUnsupportedReason(x: tf.Tensor, p: FusedNormParams, shift: tf.Tensor | null = null, scale: tf.Tensor | null = null): string | null {
  if (tf.getBackend() !== 'webgpu') return `backend is '${tf.getBackend()}', not webgpu`;
  if (!faeWebGPUKernelsEnabled() || !tf.getKernel(NORM_KERNEL, 'webgpu')) return 'FAE WebGPU kernels are not registered (registerFaeWebGPUKernels())';
  const all = [x, p.weight, p.bias, shift, scale].filter((t): t is tf.Tensor => !!t);
  if (all.some((t) => t.dtype !== 'float32')) return 'tensors must be float32';
  if (x.rank < 1 || x.size === 0) return 'x must be non-empty';
  const d = x.shape[x.rank - 1];
  if (d > NORM_MAX_DIM) return `last dim ${d} > ${NORM_MAX_DIM}`;
  if (d % 4 !== 0) return `last dim ${d} is not a multiple of 4`;
  for (const [name, t] of [['weight', p.weight], ['bias', p.bias]] as const) {
    if (t && (t.rank !== 1 || t.shape[0] !== d)) return `${name} [${t.shape}] must be [${d}]`;
  }
  if (p.kind === 'rms' && p.bias) return 'RMSNorm has no bias';
  if (shift && !scale) return 'shift without scale';
  if (scale) {
    if (x.rank !== 3) return `modulation needs x [B, T, D], got [${x.shape}]`;
    for (const [name, t] of [['scale', scale], ['shift', shift]] as const) {
      if (t && (t.rank !== 2 || t.shape[0] !== x.shape[0] || t.shape[1] !== d)) return `${name} [${t.shape}] must be [${x.shape[0]}, ${d}]`;
    }
  }
  return null;
}

/** True when the fused norm can run these tensors. */
export function fusedNormSupported(x: tf.Tensor, p: FusedNormParams, shift: tf.Tensor | null = null, scale: tf.Tensor | null = null): boolean {
  return fusedNormUnsupportedReason(x, p, shift, scale) === null;
}

/**
 * norm(x) over the last axis (LayerNorm: (x - mean) / sqrt(var + eps) * w + b; RMSNorm:
 * x / sqrt(mean(x^2) + eps) * w), then optionally adaLN `* (1 + scale) + shift` with per-sample
 * scale/shift [B, D] over x [B, T, D]. One WebGPU dispatch; differentiable in every tensor input.
 * Throws where the fused kernel cannot run (see fusedNormUnsupportedReason).
 */
export function fusedNorm(x: tf.Tensor, p: FusedNormParams, shift: tf.Tensor | null = null, scale: tf.Tensor | null = null): tf.Tensor {
  const why = fusedNormUnsupportedReason(x, p, shift, scale);
  if (why) {
    if (why.startsWith('backend') || why.startsWith('FAE')) throw new ConfigError('fusedNorm', why);
    throw new ShapeError('fusedNorm(x, ...)', 'float32 x [..., D] (D <= 4096, D % 4 == 0), weight/bias [D], scale/shift [B, D] for x [B, T, D]', why);
  }
  const d = x.shape[x.rank - 1];
  const n = x.size / d;
  const rowsPerBatch = scale ? x.shape[1]! : n;
  const bias = p.kind === 'rms' ? null : p.bias ?? null;
  const named: Array<[string, tf.Tensor | null]> = [['weight', p.weight ?? null], ['bias', bias], ['shift', scale ? shift : null], ['scale', scale]];
  const present = named.filter((e): e is [string, tf.Tensor] => !!e[1]);
  const attrs = { kind: p.kind, eps: p.eps, rowsPerBatch };
  const run = (xi: tf.Tensor, params: tf.Tensor[]) => {
    const inputs: Record<string, tf.Tensor> = { x: tf.reshape(xi, [n, d]) };
    present.forEach(([name], i) => (inputs[name] = params[i]));
    return tf.reshape(tf.engine().runKernel(NORM_KERNEL, inputs, attrs) as tf.Tensor, x.shape); // [..., D]
  };
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const save = args.pop() as tf.GradSaveFunc;
    const ts = args as tf.Tensor[];
    save(ts);
    return {
      value: run(ts[0], ts.slice(1)),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => normBackward(dy, saved, present.map(([name]) => name), p, d),
    };
  });
  return tf.tidy(() => op(x, ...present.map(([, t]) => t)));
}

/** Gradients of fusedNorm in tfjs ops: [dx, then one per present input in order]. */
function normBackward(dy: tf.Tensor, saved: tf.Tensor[], names: string[], p: FusedNormParams, d: number): tf.Tensor[] {
  const [x, ...params] = saved;
  const get = (name: string) => params[names.indexOf(name)] ?? null;
  const [w, shift, scale] = [get('weight'), get('shift'), get('scale')];
  const n = x.size / d;
  const x2 = tf.reshape(x, [n, d]); // [N, D]
  let xhat: tf.Tensor;
  let rstd: tf.Tensor;
  if (p.kind === 'layer') {
    const xc = tf.sub(x2, tf.mean(x2, 1, true));
    rstd = tf.rsqrt(tf.add(tf.mean(tf.square(xc), 1, true), p.eps)); // [N, 1]
    xhat = tf.mul(xc, rstd); // [N, D]
  } else {
    rstd = tf.rsqrt(tf.add(tf.mean(tf.square(x2), 1, true), p.eps)); // [N, 1]
    xhat = tf.mul(x2, rstd);
  }
  let dn = tf.reshape(dy, [n, d]); // gradient w.r.t. the normalised (affine) output, [N, D]
  const grads = new Map<string, tf.Tensor>();
  if (scale) {
    const bt = scale.shape[0];
    let nrm = w ? tf.mul(xhat, w) : xhat;
    const b = get('bias');
    if (b) nrm = tf.add(nrm, b);
    const dy3 = tf.reshape(dn, [bt, n / bt, d]); // [B, T, D]
    grads.set('scale', tf.sum(tf.mul(dy3, tf.reshape(nrm, [bt, n / bt, d])), 1)); // [B, D]
    if (shift) grads.set('shift', tf.sum(dy3, 1)); // [B, D]
    dn = tf.reshape(tf.mul(dy3, tf.add(1, tf.reshape(scale, [bt, 1, d]))), [n, d]);
  }
  if (w) grads.set('weight', tf.sum(tf.mul(dn, xhat), 0)); // [D]
  if (get('bias')) grads.set('bias', tf.sum(dn, 0)); // [D]
  const g = w ? tf.mul(dn, w) : dn; // [N, D]
  const proj = tf.mul(xhat, tf.mean(tf.mul(g, xhat), 1, true));
  const centred = p.kind === 'layer' ? tf.sub(tf.sub(g, tf.mean(g, 1, true)), proj) : tf.sub(g, proj);
  const dx = tf.reshape(tf.mul(rstd, centred), x.shape);
  return [dx, ...names.map((name) => grads.get(name)!)];
}

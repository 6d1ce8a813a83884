// act(x W + b) in ONE WebGPU dispatch: the register-tiled matmul (matmul-tiled.ts) with its bias and
// activation epilogue (exact erf GELU included), as a differentiable op. tfjs's composite is matmul,
// add, then the activation's own 3-6 kernels over the [N, out] intermediate. The backward recomputes
// the pre-activation z = x W + b (one more tiled matmul) rather than keeping it, then
// dz = dy * act'(z), dx = dz W^T, dW = x^T dz, db = sum(dz).
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError } from '../errors.js';
import type { KernelArgs } from './attention-kernels.js';
import { type FusedActivation } from './matmul-tiled.js';
import { matMulProgram, workgroupBytesOf } from './matmul-select.js';
import { faeWebGPUKernelsEnabled } from './kernel-state.js';

export const LINEAR_ACT_KERNEL = 'FaeLinearActivation';

/** Activations the epilogue computes (names as in nn/activations.ts where they overlap). */
export type LinearActivation = 'linear' | 'relu' | 'gelu' | 'gelu_tanh' | 'silu' | 'sigmoid';
const ACTS: readonly string[] = ['linear', 'relu', 'gelu', 'gelu_tanh', 'silu', 'sigmoid'];

/** kernel: inputs {x [N, K], w [K, M], bias? [M]}; attrs {activation} -> [N, M]. */
export function linearActivationKernel({ inputs, backend, attrs = {} }: KernelArgs): tf.TensorInfo {
  const { x, w, bias } = inputs;
  const [n, k] = x.shape;
  const m = w.shape[1];
  const program = matMulProgram({
    transposeA: false, transposeB: false, batchA: 1, batchB: 1, M: n, N: m, K: k,
    hasBias: !!bias, activation: attrs.activation as FusedActivation,
  }, workgroupBytesOf(backend));
  const a3 = { dataId: x.dataId, shape: [1, n, k], dtype: x.dtype };
  const b3 = { dataId: w.dataId, shape: [1, k, m], dtype: w.dtype };
  const out = backend.runWebGPUProgram(program, bias ? [a3, b3, bias] : [a3, b3], 'float32') as tf.TensorInfo; // [1, N, M]
  return { dataId: out.dataId, shape: [n, m], dtype: out.dtype };
}

/** Why the fused kernel cannot run, or null (webgpu with FAE's kernels, float32 x [..., K], w [K, M], bias [M]). */
export function linearActivationUnsupportedReason(x: tf.Tensor, w: tf.Tensor, bias: tf.Tensor | null, act: string): string | null {
  if (tf.getBackend() !== 'webgpu') return `backend is '${tf.getBackend()}', not webgpu`;
  if (!faeWebGPUKernelsEnabled() || !tf.getKernel(LINEAR_ACT_KERNEL, 'webgpu')) return 'FAE WebGPU kernels are not registered (registerFaeWebGPUKernels())';
  if (!ACTS.includes(act)) return `activation '${act}' is not one of ${ACTS.join(', ')}`;
  if ([x, w, bias].some((t) => t && t.dtype !== 'float32')) return 'tensors must be float32';
  if (x.rank < 2 || w.rank !== 2 || x.shape[x.rank - 1] !== w.shape[0]) return `x [${x.shape}] and w [${w.shape}] must be [..., K] and [K, M]`;
  if (bias && (bias.rank !== 1 || bias.shape[0] !== w.shape[1])) return `bias [${bias.shape}] must be [${w.shape[1]}]`;
  if (x.size === 0 || w.size === 0) return 'empty tensor';
  return null;
}

function tapeIsRecording(): boolean {
  const engine = tf.engine() as unknown as { isTapeOn?: () => boolean };
  return typeof engine.isTapeOn === 'function' ? engine.isTapeOn() : true;
}

/** act'(z), elementwise (the derivatives of the epilogue's activations). */
function activationGrad(z: tf.Tensor, act: LinearActivation): tf.Tensor {
  switch (act) {
    case 'linear': return tf.onesLike(z);
    case 'relu': return tf.cast(tf.greater(z, 0), 'float32');
    case 'sigmoid': { const s = tf.sigmoid(z); return tf.mul(s, tf.sub(1, s)); }
    case 'silu': { const s = tf.sigmoid(z); return tf.mul(s, tf.add(1, tf.mul(z, tf.sub(1, s)))); }
    case 'gelu': {
      // Phi(z) + z phi(z)
      const cdf = tf.mul(0.5, tf.add(1, tf.erf(tf.mul(z, Math.SQRT1_2))));
      const pdf = tf.mul(1 / Math.sqrt(2 * Math.PI), tf.exp(tf.mul(-0.5, tf.square(z))));
      return tf.add(cdf, tf.mul(z, pdf));
    }
    case 'gelu_tanh': {
      const c = Math.sqrt(2 / Math.PI);
      const t = tf.tanh(tf.mul(c, tf.add(z, tf.mul(0.044715, tf.pow(z, 3)))));
      const dt = tf.mul(tf.sub(1, tf.square(t)), tf.mul(c, tf.add(1, tf.mul(3 * 0.044715, tf.square(z)))));
      return tf.add(tf.mul(0.5, tf.add(1, t)), tf.mul(tf.mul(0.5, z), dt));
    }
  }
}

/**
 * act(x W + b): x [..., K], w [K, M] (compute layout, as Linear stores it), bias [M] or null ->
 * [..., M], in one WebGPU dispatch (any N, K, M: the tiled kernel bounds-checks). Differentiable in
 * x, w and bias. Throws where it cannot run (linearActivationUnsupportedReason); model code can
 * check `linearActivationSupported` and otherwise call Linear + the activation.
 */
export function linearActivation(x: tf.Tensor, w: tf.Tensor, bias: tf.Tensor | null, act: LinearActivation): tf.Tensor {
  const why = linearActivationUnsupportedReason(x, w, bias, act);
  if (why) {
    if (why.startsWith('backend') || why.startsWith('FAE')) throw new ConfigError('linearActivation', why);
    throw new ShapeError('linearActivation(x, w, bias)', 'float32 x [..., K], w [K, M], bias [M] and a supported activation', why);
  }
  const [k, m] = w.shape as [number, number];
  const lead = x.shape.slice(0, -1);
  const run = (x2: tf.Tensor, wi: tf.Tensor, bi: tf.Tensor | null, a: LinearActivation) =>
    tf.engine().runKernel(LINEAR_ACT_KERNEL, bi ? { x: x2, w: wi, bias: bi } : { x: x2, w: wi }, { activation: a }) as tf.Tensor; // [N, M]
  if (!tapeIsRecording()) return tf.tidy(() => tf.reshape(run(tf.reshape(x, [-1, k]), w, bias, act), [...lead, m]));
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const save = args.pop() as tf.GradSaveFunc;
    const [xi, wi, bi] = args as tf.Tensor[];
    const x2 = tf.reshape(xi, [-1, k]); // [N, K]
    save(bi ? [x2, wi, bi] : [x2, wi]);
    return {
      value: tf.reshape(run(x2, wi, bi ?? null, act), [...lead, m]), // [..., M]
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ws, bs] = saved;
        const z = run(xs, ws, bs ?? null, 'linear'); // [N, M] pre-activation, recomputed
        const dz = tf.mul(tf.reshape(dy, [-1, m]), activationGrad(z, act)); // [N, M]
        const dx = tf.reshape(tf.matMul(dz, ws, false, true), xi.shape); // [..., K]
        const dw = tf.matMul(xs, dz, true, false); // [K, M]
        return bs ? [dx, dw, tf.sum(dz, 0)] : [dx, dw];
      },
    };
  });
  return tf.tidy(() => (bias ? op(x, w, bias) : op(x, w)));
}

/** True when `linearActivation` can run these tensors. */
export function linearActivationSupported(x: tf.Tensor, w: tf.Tensor, bias: tf.Tensor | null, act: string): boolean {
  return linearActivationUnsupportedReason(x, w, bias, act) === null;
}

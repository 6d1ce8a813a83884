// W8A8 linear layers on WebGPU: int8 weights (symmetric, one scale per output channel, quantised
// once), int8 activations (symmetric, one scale per token, quantised on every call), int32
// accumulation on tensor cores (subgroup matrices) or in the scalar dot4I8Packed kernel, and a
// dequantising epilogue y = acc * sx[t] * sw[n] + b[n] with the activation fused.
// Inference only: the int8 kernels have no gradient.
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError } from '../errors.js';
import { INT8_MATMUL_KERNEL, INT8_QUANTIZE_KERNEL, ensureInt8Kernels, precompileInt8SubgroupMatrix, prepareInt8SubgroupMatrix, type Int8Kernel, type Int8MatMulAttrs } from '../webgpu/int8-kernels.js';
import type { FusedActivation } from '../webgpu/matmul-tiled.js';
import { packedWords, unpackInt8Rows } from './int8-reference.js';

/** 'auto': subgroup matrices where the device has them, else fp32 (no int8); or one kernel, required. */
export type W8A8Kernel = 'auto' | Int8Kernel;

function requireWebGPU(what: string): void {
  if (tf.getBackend() !== 'webgpu') throw new ConfigError(what, `int8 kernels run on the webgpu backend only (active: '${tf.getBackend()}')`);
  if (!ensureInt8Kernels()) throw new ConfigError(what, 'the webgpu backend is not registered');
}

/**
 * Symmetric per-row int8 quantisation: x [R, K] float32 -> int32 [R * ceil(K/4) + R] (rows packed
 * 4 values a word, then the R scales as float32 bits; see webgpu/int8-quantize-program.ts).
 */
export function quantizeRows(x: tf.Tensor): tf.Tensor1D {
  requireWebGPU('quantizeRows');
  if (x.rank !== 2 || x.dtype !== 'float32') throw new ShapeError('quantizeRows(x)', 'float32 [R, K]', `${x.dtype} [${x.shape}]`);
  return tf.engine().runKernel(INT8_QUANTIZE_KERNEL, { x }) as tf.Tensor1D;
}

/** Reads a quantizeRows result back: q [R, K] int8 and the row scales. */
export async function readQuantizedRows(packed: tf.Tensor, rows: number, k: number): Promise<{ q: Int8Array; scales: Float32Array }> {
  const data = (await packed.data()) as Int32Array;
  const kw = packedWords(k);
  if (data.length !== rows * kw + rows) throw new ShapeError('readQuantizedRows(packed)', `${rows * kw + rows} words for [${rows}, ${k}]`, `${data.length}`);
  return { q: unpackInt8Rows(data.subarray(0, rows * kw), rows, k), scales: new Float32Array(data.buffer.slice(data.byteOffset + rows * kw * 4, data.byteOffset + (rows * kw + rows) * 4)) };
}

/** A Linear's weight in int8: W^T rows (one per output channel) packed, with their scales. Owns its tensor. */
export class QuantizedWeight {
  private constructor(
    /** int32 [outFeatures * ceil(inFeatures/4) + outFeatures] */
    readonly packed: tf.Tensor1D,
    readonly inFeatures: number,
    readonly outFeatures: number,
  ) {}

  /** w: [in, out] float32 (Linear's compute layout) -> per-output-channel int8. */
  static fromWeight(w: tf.Tensor): QuantizedWeight {
    if (w.rank !== 2) throw new ShapeError('QuantizedWeight.fromWeight(w)', '[in, out]', `[${w.shape}]`);
    const [k, n] = w.shape as [number, number];
    const packed = tf.tidy(() => quantizeRows(tf.transpose(w))); // [N, K] rows -> packed
    return new QuantizedWeight(packed, k, n);
  }

  get isDisposed(): boolean {
    return this.packed.isDisposed;
  }

  dispose(): void {
    this.packed.dispose();
  }
}

export interface Int8MatMulOptions {
  kernel: Int8Kernel;
  /** 'int32': the raw accumulators; 'dequant' (default): f32(acc) * scaleA[m] * scaleB[n] (+ bias), then `activation`. */
  epilogue?: 'int32' | 'dequant';
  bias?: tf.Tensor | null;
  activation?: FusedActivation;
}

/**
 * C [m, n] = A [m, k] B [n, k]^T on int8 rows packed by quantizeRows (or packInt8Rows, for 'int32'),
 * int32 accumulation. The subgroup-matrix kernel needs `await prepareInt8SubgroupMatrix()` first.
 */
export function int8MatMul(a: tf.Tensor, b: tf.Tensor, m: number, n: number, k: number, opts: Int8MatMulOptions): tf.Tensor2D {
  requireWebGPU('int8MatMul');
  const kw = packedWords(k);
  const epilogue = opts.epilogue ?? 'dequant';
  const extra = epilogue === 'dequant' ? 1 : 0;
  for (const [name, t, rows] of [['a', a, m], ['b', b, n]] as const) {
    const want = rows * kw + extra * rows;
    if (t.dtype !== 'int32' || t.size < want) throw new ShapeError(`int8MatMul(${name})`, `int32 with ${want} words ([${rows}, ${k}] packed${extra ? ' + scales' : ''})`, `${t.dtype} [${t.shape}]`);
  }
  const bias = opts.bias ?? null;
  if (bias && (bias.dtype !== 'float32' || bias.rank !== 1 || bias.shape[0] !== n)) throw new ShapeError('int8MatMul(bias)', `float32 [${n}]`, `${bias.dtype} [${bias.shape}]`);
  const attrs: Int8MatMulAttrs = { m, n, k, epilogue, activation: opts.activation ?? 'linear', kernel: opts.kernel };
  const inputs: tf.NamedTensorMap = bias && epilogue === 'dequant' ? { a, b, bias } : { a, b };
  return tf.engine().runKernel(INT8_MATMUL_KERNEL, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor2D;
}

/**
 * act(x W + b) at W8A8: x [..., K] float32 quantised per token, `w` from QuantizedWeight.fromWeight,
 * bias [N] or null -> [..., N] float32.
 */
export function w8a8Linear(x: tf.Tensor, w: QuantizedWeight, bias: tf.Tensor | null, opts: { kernel: Int8Kernel; activation?: FusedActivation }): tf.Tensor {
  const k = w.inFeatures;
  if (x.shape[x.rank - 1] !== k) throw new ShapeError('w8a8Linear(x)', `[..., ${k}]`, `[${x.shape}]`);
  return tf.tidy(() => {
    const lead = x.shape.slice(0, -1);
    const x2 = tf.reshape(x, [-1, k]); // [T, K]
    const xq = quantizeRows(x2); // [T * KW + T]
    const y = int8MatMul(xq, w.packed, x2.shape[0], w.outFeatures, k, { kernel: opts.kernel, bias, activation: opts.activation }); // [T, N]
    return tf.reshape(y, [...lead, w.outFeatures]);
  });
}

/**
 * Which int8 kernel to use for `requested` on the active backend: 'auto' -> subgroup matrices where
 * they run exactly (probed once), else null (stay fp32) with the reason; a named kernel that cannot
 * run throws ConfigError.
 */
export async function resolveInt8Kernel(requested: W8A8Kernel): Promise<{ kernel: Int8Kernel | null; reason: string | null }> {
  if (tf.getBackend() !== 'webgpu') {
    const reason = `int8 kernels run on the webgpu backend only (active: '${tf.getBackend()}')`;
    if (requested === 'auto') return { kernel: null, reason };
    throw new ConfigError(`int8 kernel '${requested}'`, reason);
  }
  ensureInt8Kernels();
  if (requested === 'scalar') return { kernel: 'scalar', reason: null };
  const probe = await prepareInt8SubgroupMatrix();
  if (probe.variant) {
    // the W8A8 linear's GEMMs (dequant, with and without bias), compiled with their errors caught here
    try {
      await precompileInt8SubgroupMatrix([true, false].map((hasBias) => ({ epilogue: 'dequant', hasBias, activation: 'linear' })));
      return { kernel: 'subgroup-matrix', reason: null };
    } catch (e) {
      const reason = `the subgroup-matrix W8A8 GEMM does not compile: ${(e as Error).message}`;
      if (requested === 'auto') return { kernel: null, reason };
      throw new ConfigError("int8 kernel 'subgroup-matrix'", reason);
    }
  }
  if (requested === 'auto') return { kernel: null, reason: probe.reason };
  throw new ConfigError("int8 kernel 'subgroup-matrix'", probe.reason ?? 'unavailable');
}

// tfjs kernels (backend 'webgpu') for int8 work, and the one-time probe of the subgroup-matrix GEMM:
//   FaeInt8QuantizeRows  {x [R, K] f32} -> int32 [R * KW + R] (int8-quantize-program.ts)
//   FaeInt8MatMul        {a, b[, bias]}, attrs {m, n, k, epilogue, activation, kernel} -> [m, n]
// registered on first use (ensureInt8Kernels). The subgroup-matrix kernel is experimental WGSL whose
// spelling has changed between Dawn versions, so before first use `prepareInt8SubgroupMatrix()`
// compiles each known variant and keeps the first one whose product is bit-exact against the
// integer reference on a ragged problem; none -> the reason, and callers fall back.
import * as tf from '@tensorflow/tfjs-core';
import { int8MatMulReference, packInt8Rows } from '../quant/int8-reference.js';
import type { KernelArgs } from './attention-kernels.js';
import { dispatchRaw, compileRawPipeline } from './int8-dispatch.js';
import { SUBGROUP_MATRIX_VARIANTS, SCALAR_TILE, scalarGemmUserCode, subgroupMatrixDispatch, subgroupMatrixGemmShader, type Int8GemmSpec, type SubgroupMatrixKWords, type SubgroupMatrixVariant } from './int8-gemm-wgsl.js';
import { subgroupMatrixUnavailableReason } from './int8-device.js';
import { int8QuantizeRowsProgram } from './int8-quantize-program.js';
import type { FusedActivation } from './matmul-tiled.js';

export const INT8_QUANTIZE_KERNEL = 'FaeInt8QuantizeRows';
export const INT8_MATMUL_KERNEL = 'FaeInt8MatMul';

export type Int8Kernel = 'scalar' | 'subgroup-matrix';

const options: { subgroupMatrixKWords: SubgroupMatrixKWords; subgroupMatrixPrefetch: boolean } = { subgroupMatrixKWords: 16, subgroupMatrixPrefetch: false };

/**
 * Tuning of the subgroup-matrix GEMM (benchmarks compare): K words staged per step (16 default, or
 * 32) and register prefetch of the next tile (default off).
 */
export function configureInt8Kernels(o: Partial<typeof options>): typeof options {
  Object.assign(options, o);
  return { ...options };
}

export interface Int8MatMulAttrs {
  m: number;
  n: number;
  k: number;
  epilogue: Int8GemmSpec['epilogue'];
  activation: FusedActivation;
  kernel: Int8Kernel;
  /** subgroup-matrix only: a variant to use instead of the probed one (the probe itself). */
  variant?: SubgroupMatrixVariant;
}

function quantizeRowsKernel({ inputs, backend }: KernelArgs): tf.TensorInfo {
  const { x } = inputs;
  const [rows, k] = x.shape;
  return backend.runWebGPUProgram(int8QuantizeRowsProgram(rows, k), [x], 'int32') as tf.TensorInfo;
}

function specOf(a: Int8MatMulAttrs, hasBias: boolean): Int8GemmSpec {
  return { epilogue: a.epilogue, hasBias: hasBias && a.epilogue === 'dequant', activation: a.epilogue === 'dequant' ? a.activation : 'linear' };
}

function int8MatMulKernel({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const a = attrs as unknown as Int8MatMulAttrs;
  const { m, n, k } = a;
  const kw = Math.ceil(k / 4);
  const spec = specOf(a, !!inputs.bias);
  const ins = spec.hasBias ? [inputs.a, inputs.b, inputs.bias] : [inputs.a, inputs.b];
  const outDtype = spec.epilogue === 'int32' ? 'int32' : 'float32';
  if (a.kernel === 'subgroup-matrix') {
    const variant = a.variant ?? probed.get(backend.device)?.variant;
    if (!variant) throw new Error('int8 subgroup-matrix GEMM: not prepared on this device (await prepareInt8SubgroupMatrix() first)');
    const { subgroupMatrixKWords: kWords, subgroupMatrixPrefetch: prefetch } = options;
    return dispatchRaw(backend, {
      key: shaderKey(spec, variant, kWords, prefetch),
      code: subgroupMatrixGemmShader(spec, variant, kWords, prefetch),
      inputs: ins,
      outputShape: [m, n],
      outputDtype: outDtype,
      uniforms: [m, n, kw],
      workgroups: subgroupMatrixDispatch(m, n),
    });
  }
  const program = {
    variableNames: spec.hasBias ? ['A', 'B', 'Bias'] : ['A', 'B'],
    outputShape: [m, n],
    shaderKey: `faeInt8Gemm_${spec.epilogue}_${spec.hasBias}_${spec.activation}`,
    dispatchLayout: { x: [1], y: [0] },
    dispatch: [Math.ceil(n / SCALAR_TILE), Math.ceil(m / SCALAR_TILE), 1] as [number, number, number],
    workgroupSize: [16, 16, 1] as [number, number, number],
    uniforms: 'M : i32, N : i32, KW : i32,',
    getUserCode: () => scalarGemmUserCode(spec),
  };
  return backend.runWebGPUProgram(program, ins, outDtype, [{ type: 'int32', data: [m] }, { type: 'int32', data: [n] }, { type: 'int32', data: [kw] }]) as tf.TensorInfo;
}

function shaderKey(spec: Int8GemmSpec, v: SubgroupMatrixVariant, kWords: SubgroupMatrixKWords, prefetch: boolean): string {
  return `faeInt8SgGemm_${v.syntax}_${v.unit}_${kWords}_${prefetch ? 'pf' : 'st'}_${spec.epilogue}_${spec.hasBias}_${spec.activation}`;
}

/** Registers the int8 kernels for 'webgpu' if they are not (idempotent; false without the webgpu backend). */
export function ensureInt8Kernels(): boolean {
  if (!tf.findBackendFactory('webgpu')) return false;
  const kernels: Array<[string, (args: KernelArgs) => tf.TensorInfo]> = [
    [INT8_QUANTIZE_KERNEL, quantizeRowsKernel],
    [INT8_MATMUL_KERNEL, int8MatMulKernel],
  ];
  for (const [kernelName, fn] of kernels) {
    if (!tf.getKernel(kernelName, 'webgpu')) tf.registerKernel({ kernelName, backendName: 'webgpu', kernelFunc: fn as unknown as tf.KernelFunc });
  }
  return true;
}

/**
 * Compiles the subgroup-matrix GEMM pipelines for `specs` at `kWords` (default: the configured depth)
 * ahead of use, with errors reported here rather than as a device error at dispatch time (an invalid
 * pipeline would invalidate the whole queued command buffer). Needs a successful probe.
 */
export async function precompileInt8SubgroupMatrix(specs: Int8GemmSpec[], kWords: SubgroupMatrixKWords = options.subgroupMatrixKWords, prefetch = options.subgroupMatrixPrefetch): Promise<void> {
  const backend = tf.backend() as any;
  const variant = probed.get(backend.device)?.variant;
  if (!variant) throw new Error('int8 subgroup-matrix GEMM: not prepared on this device (await prepareInt8SubgroupMatrix() first)');
  for (const spec of specs) await compileRawPipeline(backend, shaderKey(spec, variant, kWords, prefetch), subgroupMatrixGemmShader(spec, variant, kWords, prefetch));
}

// ---------------------------------------------------------------- probe
export interface SubgroupMatrixProbe {
  /** The variant in use, or null where none runs exactly. */
  variant: SubgroupMatrixVariant | null;
  /** Why the subgroup-matrix GEMM is not used, or null. */
  reason: string | null;
  /** What each variant tried did. */
  tried: Array<{ variant: SubgroupMatrixVariant; outcome: string }>;
}

const probed = new WeakMap<object, SubgroupMatrixProbe>();

/** The probe result for the active backend's device (null before prepareInt8SubgroupMatrix()). */
export function int8SubgroupMatrixProbe(): SubgroupMatrixProbe | null {
  if (tf.getBackend() !== 'webgpu') return null;
  return probed.get((tf.backend() as any).device) ?? null;
}

/** A deterministic int8 matrix with the extremes -128 and 127 in it. */
function probeValues(rows: number, k: number, seed: number): Int8Array {
  const v = new Int8Array(rows * k);
  let s = seed >>> 0;
  for (let i = 0; i < v.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    v[i] = (s >>> 24) - 128;
  }
  v[0] = -128;
  v[1] = 127;
  v[v.length - 1] = -128;
  return v;
}

/** Runs the subgroup-matrix GEMM with `variant` on [m, k] x [n, k] and compares with the integer reference. */
async function exactOn(variant: SubgroupMatrixVariant, m: number, n: number, k: number): Promise<string | null> {
  const av = probeValues(m, k, 7 + m);
  const bv = probeValues(n, k, 11 + n);
  const kw = Math.ceil(k / 4);
  const a = tf.tensor1d(packInt8Rows(av, m, k), 'int32');
  const b = tf.tensor1d(packInt8Rows(bv, n, k), 'int32');
  try {
    const attrs: Int8MatMulAttrs = { m, n, k, epilogue: 'int32', activation: 'linear', kernel: 'subgroup-matrix', variant };
    const c = tf.engine().runKernel(INT8_MATMUL_KERNEL, { a, b }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
    const got = await c.data();
    c.dispose();
    const want = int8MatMulReference(av, bv, m, n, k);
    let bad = 0;
    for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) bad++;
    return bad ? `${bad} of ${want.length} outputs differ on [${m}, ${k}] x [${n}, ${k}] (kw ${kw})` : null;
  } finally {
    tf.dispose([a, b]);
  }
}

/**
 * Once per device: finds the subgroup-matrix GEMM variant this Dawn compiles and computes exactly
 * (ragged M, N, K incl. K % 4 != 0 and several K steps). Returns the probe; `variant` null with a
 * `reason` where the feature is missing or no variant is exact.
 */
export async function prepareInt8SubgroupMatrix(): Promise<SubgroupMatrixProbe> {
  if (tf.getBackend() !== 'webgpu') return { variant: null, reason: `backend is '${tf.getBackend()}', not webgpu`, tried: [] };
  const backend = tf.backend() as any;
  const known = probed.get(backend.device);
  if (known) return known;
  ensureInt8Kernels();
  const missing = subgroupMatrixUnavailableReason(backend);
  const result: SubgroupMatrixProbe = { variant: null, reason: missing, tried: [] };
  if (!missing) {
    const spec: Int8GemmSpec = { epilogue: 'int32', hasBias: false, activation: 'linear' };
    for (const variant of SUBGROUP_MATRIX_VARIANTS) {
      let outcome: string | null;
      try {
        const { subgroupMatrixKWords: kWords, subgroupMatrixPrefetch: prefetch } = options;
        await compileRawPipeline(backend, shaderKey(spec, variant, kWords, prefetch), subgroupMatrixGemmShader(spec, variant, kWords, prefetch));
        outcome = (await exactOn(variant, 150, 133, 301)) ?? (await exactOn(variant, 16, 16, 32));
      } catch (e) {
        outcome = (e as Error).message.slice(0, 400);
      }
      result.tried.push({ variant, outcome: outcome ?? 'exact' });
      if (!outcome) {
        result.variant = variant;
        break;
      }
    }
    if (!result.variant) result.reason = `no subgroup-matrix variant ran exactly: ${result.tried.map((t) => `${t.variant.syntax}/${t.variant.unit}: ${t.outcome}`).join(' | ')}`;
  }
  probed.set(backend.device, result);
  return result;
}

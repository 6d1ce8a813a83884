// Registers FAE's WebGPU kernels in place of tfjs-backend-webgpu's own for the ops they cover,
// keeping the originals as fallbacks for cases they do not handle. Call after the webgpu backend
// package is imported (initBackend('webgpu') does it unless told not to). No backend is imported here:
// the kernels receive the backend object from tfjs at call time.
import * as tf from '@tensorflow/tfjs-core';
import { type FusedActivation } from './matmul-tiled.js';
import { matMulChoice, matMulProgram, setMatMulChoice, workgroupBytesOf, type MatMulKernel } from './matmul-select.js';
import { faeFusedKernels } from './fused-kernels.js';
import { faeWebGPUKernelsEnabled, setFaeWebGPUKernelsEnabled } from './kernel-state.js';
import { splitReduceKernel } from './reduce-split.js';
import { SKINNY_MAX_ROWS, skinnyMatMulProgram } from './matmul-skinny.js';
import { installQueueUploads, uninstallQueueUploads } from './uploads.js';

export { faeWebGPUKernelsEnabled };

type KernelFunc = (args: { inputs: Record<string, tf.TensorInfo>; backend: any; attrs?: Record<string, unknown> }) => tf.TensorInfo | tf.TensorInfo[];

const originals = new Map<string, KernelFunc>();

export interface FaeKernelPolicy {
  /** Below this many multiply-adds the default kernels are as good (launch-bound). */
  minWork: number;
  /** Fewer 128x128 output tiles than this leave an H100's 132 SMs idle; tfjs's kernels split K. */
  minTiles: number;
  /** Use the tiled kernel for A-transposed products (slower than tfjs's on an H100). */
  transposeA: boolean;
  /** 'vec4': the vec4 double-buffered kernel where rows are 16-byte aligned (matmul-vec4.ts); 'scalar': matmul-tiled.ts only. */
  matmul: MatMulKernel;
  /** K depth of the vec4 kernel's staged slices. */
  vec4TileK: 8 | 16;
  /** Products with at most this many rows (A not transposed, one B) use the skinny kernel (matmul-skinny.ts); 0: never. */
  skinnyRows: number;
  /** ... when B has at least this many elements (smaller ones are launch-bound whichever kernel runs). */
  skinnyMinWeights: number;
}

const policy: Omit<FaeKernelPolicy, 'matmul' | 'vec4TileK'> = { minWork: 64 * 64 * 64, minTiles: 132, transposeA: false, skinnyRows: SKINNY_MAX_ROWS, skinnyMinWeights: 1 << 16 };

/** When the tiled kernel is chosen over tfjs's, and which one (tests set every case on to exercise it). */
export function configureFaeWebGPUKernels(p: Partial<FaeKernelPolicy>): FaeKernelPolicy {
  const { matmul, vec4TileK, ...rest } = p;
  Object.assign(policy, rest);
  setMatMulChoice({ ...(matmul ? { matmul } : {}), ...(vec4TileK ? { vec4TileK } : {}) });
  return { ...policy, ...matMulChoice() };
}

function batchOf(shape: number[]): number {
  return shape.slice(0, -2).reduce((a, b) => a * b, 1);
}

function runTiled(args: Parameters<KernelFunc>[0], fused: boolean): tf.TensorInfo | tf.TensorInfo[] {
  const { inputs, backend, attrs = {} } = args;
  const kernelName = fused ? '_FusedMatMul' : 'BatchMatMul';
  const fallback = () => originals.get(kernelName)!(args);
  const a = inputs.a;
  const b = inputs.b;
  const bias = fused ? inputs.bias : undefined;
  const transposeA = !!attrs.transposeA;
  const transposeB = !!attrs.transposeB;
  const activation = (fused ? (attrs.activation as string) ?? 'linear' : 'linear') as FusedActivation;
  if (a.dtype !== 'float32' || b.dtype !== 'float32') return fallback();
  if (fused && (inputs.preluActivationWeights || !['linear', 'relu', 'sigmoid'].includes(activation))) return fallback();
  const ra = a.shape.length;
  const rb = b.shape.length;
  const M = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
  const K = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
  const N = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
  const batchA = batchOf(a.shape);
  const batchB = batchOf(b.shape);
  // Only plain batching (equal batches, or one side 1) and a bias over the last axis.
  if (batchA !== batchB && batchA !== 1 && batchB !== 1) return fallback();
  if (bias && (bias.shape.length !== 1 || bias.shape[0] !== N)) return fallback();
  const reshape = tf.getKernel('Reshape', 'webgpu')!.kernelFunc as unknown as KernelFunc;
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  const outer = outerA.length >= outerB.length ? (batchA >= batchB ? outerA : outerB) : outerB;
  // Few rows against one weight matrix (e.g. a token per sequence): the skinny kernel, rows of every batch together
  const rows = batchA * M;
  if (!transposeA && batchB === 1 && rows <= Math.min(policy.skinnyRows, SKINNY_MAX_ROWS) && N * K >= policy.skinnyMinWeights) {
    const program = skinnyMatMulProgram({ transposeB, M: rows, N, K, hasBias: !!bias, activation });
    const a3 = { dataId: a.dataId, shape: [1, rows, K], dtype: a.dtype };
    const b3 = { dataId: b.dataId, shape: [1, transposeB ? N : K, transposeB ? K : N], dtype: b.dtype };
    const out = backend.runWebGPUProgram(program, bias ? [a3, b3, bias] : [a3, b3], 'float32') as tf.TensorInfo; // [1, rows, N]
    const res = reshape({ inputs: { x: out }, backend, attrs: { shape: [...outer, M, N] } }) as tf.TensorInfo;
    backend.disposeData(out.dataId);
    return res;
  }
  if (M * N * K < policy.minWork) return fallback();
  // Measured on an H100 (BENCHMARKS.md): tfjs's split-K kernel wins when the output has few 128x128
  // tiles (dW = x^T dy with huge K), and on A-transposed products; ours wins elsewhere (up to 1.6x).
  const tiles = Math.ceil(M / 128) * Math.ceil(N / 128) * Math.max(batchOf(a.shape), batchOf(b.shape));
  if ((transposeA && !policy.transposeA) || tiles < policy.minTiles) return fallback();
  const program = matMulProgram({ transposeA, transposeB, batchA, batchB, M, N, K, hasBias: !!bias, activation }, workgroupBytesOf(backend));
  const a3 = { dataId: a.dataId, shape: [batchA, transposeA ? K : M, transposeA ? M : K], dtype: a.dtype };
  const b3 = { dataId: b.dataId, shape: [batchB, transposeB ? N : K, transposeB ? K : N], dtype: b.dtype };
  const ins = bias ? [a3, b3, bias] : [a3, b3];
  const out = backend.runWebGPUProgram(program, ins, 'float32') as tf.TensorInfo;
  const outShape = [...outer, M, N];
  const res = reshape({ inputs: { x: out }, backend, attrs: { shape: outShape } }) as tf.TensorInfo;
  backend.disposeData(out.dataId);
  return res;
}

/**
 * Puts FAE's kernels in place for the 'webgpu' backend (BatchMatMul and _FusedMatMul: a 128x128
 * register-tiled matmul with fused bias/activation), Sum and Mean (two passes over large inner
 * extents, reduce-split.ts), uploads through queue.writeBuffer (uploads.ts), and registers FAE's fused kernels (attention
 * forward/backward, LayerNorm/RMSNorm with optional modulation; see fused-kernels.ts), which
 * `scaledDotProductAttention`, `layerNorm`, `rmsNorm` then use on webgpu. Returns false when the
 * webgpu backend is not registered. Idempotent; `unregisterFaeWebGPUKernels()` restores tfjs's kernels.
 */
export function registerFaeWebGPUKernels(): boolean {
  if (faeWebGPUKernelsEnabled()) return true;
  for (const name of ['BatchMatMul', '_FusedMatMul']) {
    const k = tf.getKernel(name, 'webgpu');
    if (!k) return false;
    originals.set(name, k.kernelFunc as unknown as KernelFunc);
  }
  for (const name of ['BatchMatMul', '_FusedMatMul']) {
    tf.unregisterKernel(name, 'webgpu');
    tf.registerKernel({ kernelName: name, backendName: 'webgpu', kernelFunc: ((args: Parameters<KernelFunc>[0]) => runTiled(args, name === '_FusedMatMul')) as unknown as tf.KernelFunc });
  }
  // Sum / Mean over a large inner extent in two passes (reduce-split.ts); tfjs's kernel does each pass
  for (const name of ['Sum', 'Mean']) {
    const k = tf.getKernel(name, 'webgpu');
    if (!k) continue;
    originals.set(name, k.kernelFunc as unknown as KernelFunc);
    tf.unregisterKernel(name, 'webgpu');
    tf.registerKernel({ kernelName: name, backendName: 'webgpu', kernelFunc: splitReduceKernel(k.kernelFunc as unknown as Parameters<typeof splitReduceKernel>[0]) as unknown as tf.KernelFunc });
  }
  // uploads of CPU values through queue.writeBuffer into pooled buffers (uploads.ts)
  const backend = tf.findBackend('webgpu') as unknown as Parameters<typeof installQueueUploads>[0] | null;
  if (backend) installQueueUploads(backend);
  // FAE's own fused ops (attention, norms): new kernel names, called by their ops in fused-*.ts
  for (const [name, fn] of Object.entries(faeFusedKernels())) {
    if (!tf.getKernel(name, 'webgpu')) tf.registerKernel({ kernelName: name, backendName: 'webgpu', kernelFunc: fn as unknown as tf.KernelFunc });
  }
  setFaeWebGPUKernelsEnabled(true);
  return true;
}

/** Restores tfjs-backend-webgpu's own kernels (for A/B benchmarks and tests). */
export function unregisterFaeWebGPUKernels(): void {
  if (!faeWebGPUKernelsEnabled()) return;
  for (const [name, fn] of originals) {
    tf.unregisterKernel(name, 'webgpu');
    tf.registerKernel({ kernelName: name, backendName: 'webgpu', kernelFunc: fn as unknown as tf.KernelFunc });
  }
  for (const name of Object.keys(faeFusedKernels())) if (tf.getKernel(name, 'webgpu')) tf.unregisterKernel(name, 'webgpu');
  const backend = tf.findBackend('webgpu') as unknown as Parameters<typeof uninstallQueueUploads>[0] | null;
  if (backend) uninstallQueueUploads(backend);
  setFaeWebGPUKernelsEnabled(false);
}


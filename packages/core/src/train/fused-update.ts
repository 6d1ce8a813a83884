// Fused optimizer updates: one kernel per tensor instead of 3-11 tfjs ops, with the scalars as
// kernel attributes (uniforms on WebGPU) instead of fresh scalar tensors. On a GPU a small model's
// training step is bound by the number of dispatches, and AdamW + EMA were more than half of them.
//
//   FaeMomentUpdate  out = c1 x + c2 t, t = s g or (s g)^2   (AdamW's m and v; the EMA with s = 1)
//   FaeAdamWParam    out = p d - k m / (sqrt(v) / r + eps)   (d = 1 - lr wd, k = lr / bc1, r = sqrt(bc2))
//
// The cpu and wasm kernels round to float32 after every operation, in the order the unfused tfjs ops
// take, so they give the same bits as those ops (checked in test/train-fused.test.ts); the WebGPU
// shader computes the same expression in f32 (a driver may contract a * b + c into one fma).
// No backend is imported here: kernels get the backend object from tfjs at call time.
import * as tf from '@tensorflow/tfjs-core';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Info = tf.TensorInfo;
type KernelArgs = { inputs: Record<string, Info>; backend: any; attrs?: Record<string, any> };

export const MOMENT_KERNEL = 'FaeMomentUpdate';
export const ADAMW_PARAM_KERNEL = 'FaeAdamWParam';

const f32 = Math.fround;

/** Attributes of FaeMomentUpdate: out = c1 x + c2 t, t = s g (s = null: g), squared if `square`. */
export interface MomentAttrs {
  c1: number;
  c2: number;
  scale: number | null;
  square: boolean;
}

/** Attributes of FaeAdamWParam: out = (d === null ? p : p d) - k m / (sqrt(v) / r + eps). */
export interface AdamWParamAttrs {
  d: number | null;
  k: number;
  r: number;
  eps: number;
}

// ---------------------------------------------------------------------------------------------------
// The arithmetic, shared by the cpu and wasm kernels (float32 rounding after every operation)

function momentLoop(x: Float32Array, g: Float32Array, out: Float32Array, a: MomentAttrs): void {
  const c1 = f32(a.c1);
  const c2 = f32(a.c2);
  const n = out.length;
  // One loop per case, no branch inside: V8 keeps these monomorphic and tight.
  if (a.scale === null) {
    if (a.square) for (let i = 0; i < n; i++) { const t = g[i]; out[i] = f32(f32(x[i] * c1) + f32(f32(t * t) * c2)); }
    else for (let i = 0; i < n; i++) out[i] = f32(f32(x[i] * c1) + f32(g[i] * c2));
  } else {
    const s = f32(a.scale);
    if (a.square) for (let i = 0; i < n; i++) { const t = f32(g[i] * s); out[i] = f32(f32(x[i] * c1) + f32(f32(t * t) * c2)); }
    else for (let i = 0; i < n; i++) out[i] = f32(f32(x[i] * c1) + f32(f32(g[i] * s) * c2));
  }
}

function paramLoop(p: Float32Array, m: Float32Array, v: Float32Array, out: Float32Array, a: AdamWParamAttrs): void {
  const k = f32(a.k);
  const r = f32(a.r);
  const eps = f32(a.eps);
  const n = out.length;
  if (a.d === null) {
    for (let i = 0; i < n; i++) out[i] = f32(p[i] - f32(f32(m[i] / f32(f32(f32(Math.sqrt(v[i])) / r) + eps)) * k));
  } else {
    const d = f32(a.d);
    for (let i = 0; i < n; i++) out[i] = f32(f32(p[i] * d) - f32(f32(m[i] / f32(f32(f32(Math.sqrt(v[i])) / r) + eps)) * k));
  }
}

// ---------------------------------------------------------------------------------------------------
// cpu: typed arrays of the backend's data store

function cpuValues(backend: any, t: Info): Float32Array {
  return backend.data.get(t.dataId).values as Float32Array;
}

function cpuMoment({ inputs, backend, attrs }: KernelArgs): Info {
  const out = new Float32Array(tf.util.sizeFromShape(inputs.x.shape));
  momentLoop(cpuValues(backend, inputs.x), cpuValues(backend, inputs.g), out, attrs as MomentAttrs);
  return backend.makeTensorInfo(inputs.x.shape, 'float32', out);
}

function cpuParam({ inputs, backend, attrs }: KernelArgs): Info {
  const out = new Float32Array(tf.util.sizeFromShape(inputs.p.shape));
  paramLoop(cpuValues(backend, inputs.p), cpuValues(backend, inputs.m), cpuValues(backend, inputs.v), out, attrs as AdamWParamAttrs);
  return backend.makeTensorInfo(inputs.p.shape, 'float32', out);
}

// ---------------------------------------------------------------------------------------------------
// wasm: views on the wasm heap, taken after the output is allocated (allocation may grow the heap)

function wasmMoment({ inputs, backend, attrs }: KernelArgs): Info {
  const out = backend.makeOutput(inputs.x.shape, 'float32');
  const view = (t: Info) => backend.typedArrayFromHeap(t) as Float32Array;
  momentLoop(view(inputs.x), view(inputs.g), view(out), attrs as MomentAttrs);
  return out;
}

function wasmParam({ inputs, backend, attrs }: KernelArgs): Info {
  const out = backend.makeOutput(inputs.p.shape, 'float32');
  const view = (t: Info) => backend.typedArrayFromHeap(t) as Float32Array;
  paramLoop(view(inputs.p), view(inputs.m), view(inputs.v), view(out), attrs as AdamWParamAttrs);
  return out;
}

// ---------------------------------------------------------------------------------------------------
// webgpu: one elementwise dispatch (tfjs's flat 1-D layout; `size: true` guards the tail)

function elementwiseProgram(size: number, variableNames: string[], uniforms: string, body: string, key: string) {
  return {
    variableNames,
    outputShape: [size],
    shaderKey: key,
    dispatchLayout: { x: [0] },
    dispatch: [Math.ceil(size / 64), 1, 1] as [number, number, number],
    workgroupSize: [64, 1, 1] as [number, number, number],
    size: true,
    uniforms,
    getUserCode: () => `
    fn main(index : i32) {
      if (index < uniforms.size) {
        ${body}
      }
    }`,
  };
}

function flatOf(t: Info): Info {
  return { ...t, shape: [tf.util.sizeFromShape(t.shape)] };
}

function webgpuRun(backend: any, program: ReturnType<typeof elementwiseProgram>, ins: Info[], shape: number[], floats: number[]): Info {
  const uniforms = floats.map((v) => ({ type: 'float32', data: [v] })); // one entry per scalar uniform
  const out = backend.runWebGPUProgram(program, ins.map(flatOf), 'float32', uniforms);
  return { ...out, shape };
}

function webgpuMoment({ inputs, backend, attrs }: KernelArgs): Info {
  const a = attrs as MomentAttrs;
  const size = tf.util.sizeFromShape(inputs.x.shape);
  const t = a.scale === null ? 'G[index]' : 'G[index] * uniforms.s';
  const body = `let t = ${t};
        result[index] = X[index] * uniforms.c1 + ${a.square ? 't * t' : 't'} * uniforms.c2;`;
  const program = elementwiseProgram(size, ['X', 'G'], 'c1 : f32, c2 : f32, s : f32,', body, `faeMoment_${a.scale === null}_${a.square}`);
  return webgpuRun(backend, program, [inputs.x, inputs.g], inputs.x.shape, [a.c1, a.c2, a.scale ?? 1]);
}

function webgpuParam({ inputs, backend, attrs }: KernelArgs): Info {
  const a = attrs as AdamWParamAttrs;
  const size = tf.util.sizeFromShape(inputs.p.shape);
  const body = `let denom = sqrt(V[index]) / uniforms.r + uniforms.eps;
        result[index] = P[index]${a.d === null ? '' : ' * uniforms.d'} - (M[index] / denom) * uniforms.k;`;
  const program = elementwiseProgram(size, ['P', 'M', 'V'], 'd : f32, k : f32, r : f32, eps : f32,', body, `faeAdamWParam_${a.d === null}`);
  return webgpuRun(backend, program, [inputs.p, inputs.m, inputs.v], inputs.p.shape, [a.d ?? 1, a.k, a.r, a.eps]);
}

// ---------------------------------------------------------------------------------------------------
// Registration and the ops

const KERNELS: Record<string, Record<string, (args: KernelArgs) => Info>> = {
  cpu: { [MOMENT_KERNEL]: cpuMoment, [ADAMW_PARAM_KERNEL]: cpuParam },
  wasm: { [MOMENT_KERNEL]: wasmMoment, [ADAMW_PARAM_KERNEL]: wasmParam },
  webgpu: { [MOMENT_KERNEL]: webgpuMoment, [ADAMW_PARAM_KERNEL]: webgpuParam },
};

/**
 * Registers the fused update kernels for `backendName` (cpu, wasm or webgpu); false for another
 * backend. Idempotent. This module registers all three when it loads (a kernel needs no backend
 * instance until it runs); AdamW's `fused: false` keeps the unfused ops.
 */
export function registerFusedUpdateKernels(backendName: string): boolean {
  const kernels = KERNELS[backendName];
  if (!kernels) return false;
  for (const [kernelName, fn] of Object.entries(kernels)) {
    if (!tf.getKernel(kernelName, backendName)) tf.registerKernel({ kernelName, backendName, kernelFunc: fn as unknown as tf.KernelFunc });
  }
  return true;
}

/** Removes them again (A/B benchmarks, tests of the unfused path). */
export function unregisterFusedUpdateKernels(backendName: string): void {
  for (const kernelName of Object.keys(KERNELS[backendName] ?? {})) if (tf.getKernel(kernelName, backendName)) tf.unregisterKernel(kernelName, backendName);
}

/** True when the current backend has both fused update kernels. */
export function fusedUpdatesAvailable(): boolean {
  const b = tf.getBackend();
  return !!tf.getKernel(MOMENT_KERNEL, b) && !!tf.getKernel(ADAMW_PARAM_KERNEL, b);
}

/**
 * On wasm the fused kernels are scalar JS loops, faster than tfjs's SIMD ops only while the per-op
 * overhead dominates: measured on one EPYC core, 60 tensors of 0.4M parameters in all 10.9 -> 7.3 ms
 * per AdamW step, 60 tensors of 2.6M 32 -> 61 ms. Above this many elements wasm keeps the tfjs ops
 * (the same bits either way).
 */
export const WASM_FUSED_MAX_ELEMENTS = 8192;

/** Whether to update a tensor of `size` elements with the fused kernels on the current backend. */
export function useFusedUpdate(size: number): boolean {
  if (!fusedUpdatesAvailable()) return false;
  return tf.getBackend() !== 'wasm' || size <= WASM_FUSED_MAX_ELEMENTS;
}

/** c1 x + c2 t with t = s g (or (s g)^2): one kernel. x, g float32 of one shape. */
export function momentUpdate(x: tf.Tensor, g: tf.Tensor, attrs: MomentAttrs): tf.Tensor {
  return tf.engine().runKernel(MOMENT_KERNEL, { x, g }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
}

/** AdamW's parameter update from the new moments: one kernel. */
export function adamwParamUpdate(p: tf.Tensor, m: tf.Tensor, v: tf.Tensor, attrs: AdamWParamAttrs): tf.Tensor {
  return tf.engine().runKernel(ADAMW_PARAM_KERNEL, { p, m, v }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
}

for (const name of Object.keys(KERNELS)) registerFusedUpdateKernels(name);

// FAE's replacements for tfjs-backend-wasm (4.22) kernels whose implementations leave the fast path.
// Measured on one core (DiT training step, examples/cli): 1.26 s -> see BENCHMARKS.md.
//
//   BatchMatMul  tfjs sends any batched or transposed product to a naive blocked C++ loop (~1.5
//                GFLOP/s); only [1, M, K] x [1, K, N] reaches XNNPACK (~20-30 GFLOP/s). Here
//                transposes are made explicit (wasm Transpose kernel), a shared right operand folds
//                the batch into rows, and other batches run one XNNPACK product per batch on
//                zero-copy views of the operands.
//   Slice        tfjs copies the WHOLE input to the JS heap (readSync) for every slice, then copies
//                row by row with one subarray() per row (per element when slicing the last axis).
//                Here: views on the wasm heap, contiguous runs copied with one set() or a plain loop.
//   SplitV, Unpack  are slices (same fix).
//   Concat       one subarray().set() per row and input: a plain loop for narrow rows.
//   Transpose    ranks above 4 fall to a slow generic path: axes that stay adjacent are merged and,
//                if still above rank 4, a strided copy runs in JS.
// No backend is imported here: kernels get the backend object from tfjs at call time.
import * as tf from '@tensorflow/tfjs-core';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Info = tf.TensorInfo;
type KernelArgs = { inputs: Record<string, Info>; backend: any; attrs?: Record<string, any> };
type KernelFunc = (args: KernelArgs) => Info | Info[];

const originals = new Map<string, KernelFunc>();
let installed = false;

// ---------------------------------------------------------------------------------------------------
// Heap helpers

function sizeOf(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function stridesOf(shape: number[]): number[] {
  const s = new Array(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

/** A typed-array view of a tensor on the wasm heap (invalidated when the heap grows: take views after allocating). */
function heapView(backend: any, info: Info): Float32Array | Int32Array | Uint8Array {
  return backend.typedArrayFromHeap(info);
}

/** Registers `shape` at byte `offset` of the heap as a tensor without owning the memory. */
function makeView(backend: any, shape: number[], offset: number): Info {
  return backend.makeOutput(shape, 'float32', offset);
}

/** Forgets a view made by makeView without freeing the memory it points into. */
function dropView(backend: any, view: Info): void {
  const data = backend.dataIdMap.get(view.dataId);
  backend.wasm.tfjs.disposeData(data.id);
  backend.dataIdMap.delete(view.dataId);
}

function offsetOf(backend: any, info: Info): number {
  return backend.dataIdMap.get(info.dataId).memoryOffset;
}

// ---------------------------------------------------------------------------------------------------
// Slice and the ops built on it

/** Copies x[begin : begin + size] into out (views), runs of the innermost contiguous block at a time. */
function copySlice(x: ArrayLike<number>, xShape: number[], begin: number[], size: number[], out: { [i: number]: number; set?: any; length: number }): void {
  const rank = xShape.length;
  // Merge trailing axes taken whole into the innermost run.
  let inner = rank - 1;
  let run = size[rank - 1];
  while (inner > 0 && size[inner] === xShape[inner] && begin[inner] === 0) {
    inner--;
    run *= size[inner];
  }
  const strides = stridesOf(xShape);
  const outer = size.slice(0, inner);
  const count = sizeOf(outer);
  const idx = new Array(inner).fill(0);
  let o = 0;
  const dst = out as Float32Array;
  const src = x as Float32Array;
  for (let n = 0; n < count; n++) {
    let off = begin[inner] * strides[inner];
    for (let a = 0; a < inner; a++) off += (begin[a] + idx[a]) * strides[a];
    if (run >= 32) dst.set(src.subarray(off, off + run), o);
    else for (let j = 0; j < run; j++) dst[o + j] = src[off + j];
    o += run;
    for (let a = inner - 1; a >= 0; a--) {
      if (++idx[a] < outer[a]) break;
      idx[a] = 0;
    }
  }
}

function sliceInfo(backend: any, x: Info, begin: number[], size: number[], outShape = size): Info {
  const out = backend.makeOutput(outShape, x.dtype);
  if (sizeOf(size) === 0) return out;
  copySlice(heapView(backend, x), x.shape, begin, size, heapView(backend, out));
  return out;
}

function slice(args: KernelArgs): Info {
  const { inputs: { x }, backend, attrs = {} } = args;
  if (x.dtype === 'string') return originals.get('Slice')!(args) as Info;
  const [begin, size] = tf.slice_util.parseSliceParams(x as tf.Tensor, attrs.begin, attrs.size);
  return sliceInfo(backend, x, begin, size);
}

function splitV(args: KernelArgs): Info[] {
  const { inputs: { x }, backend, attrs = {} } = args;
  if (x.dtype === 'string') return originals.get('SplitV')!(args) as Info[];
  const axis = tf.util.parseAxisParam(attrs.axis, x.shape)[0];
  const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, attrs.numOrSizeSplits, axis);
  const begin = new Array(x.shape.length).fill(0);
  const size = x.shape.slice();
  return sizes.map((s: number) => {
    size[axis] = s;
    const out = sliceInfo(backend, x, begin.slice(), size.slice());
    begin[axis] += s;
    return out;
  });
}

function unpack(args: KernelArgs): Info[] {
  const { inputs: { value: x }, backend, attrs = {} } = args;
  if (x.dtype === 'string') return originals.get('Unpack')!(args) as Info[];
  const axis = attrs.axis < 0 ? attrs.axis + x.shape.length : attrs.axis;
  const n = x.shape[axis];
  const outShape = x.shape.filter((_, i) => i !== axis);
  const begin = new Array(x.shape.length).fill(0);
  const size = x.shape.slice();
  size[axis] = 1;
  const outs: Info[] = [];
  for (let i = 0; i < n; i++) {
    begin[axis] = i;
    outs.push(sliceInfo(backend, x, begin.slice(), size, outShape));
  }
  return outs;
}

function concat(args: KernelArgs): Info {
  const { inputs, backend, attrs = {} } = args;
  const list = Object.keys(inputs).sort((a, b) => Number(a) - Number(b)).map((k) => inputs[k]);
  if (list.some((t) => t.dtype === 'string')) return originals.get('Concat')!(args) as Info;
  const axis = tf.util.parseAxisParam(attrs.axis, list[0].shape)[0];
  const parts = list.filter((t) => sizeOf(t.shape) > 0);
  if (parts.length <= 1) return originals.get('Concat')!(args) as Info;
  const outShape = tf.backend_util.computeOutShape(list.map((t) => t.shape), axis);
  const out = backend.makeOutput(outShape, list[0].dtype);
  const rows = sizeOf(outShape.slice(0, axis));
  const widths = parts.map((t) => sizeOf(t.shape.slice(axis)));
  const total = widths.reduce((a, b) => a + b, 0);
  const dst = heapView(backend, out) as Float32Array;
  parts.forEach((t, i) => {
    const src = heapView(backend, t) as Float32Array;
    const w = widths[i];
    let col = 0;
    for (let k = 0; k < i; k++) col += widths[k];
    for (let r = 0; r < rows; r++) {
      const s = r * w;
      const d = r * total + col;
      if (w >= 32) dst.set(src.subarray(s, s + w), d);
      else for (let j = 0; j < w; j++) dst[d + j] = src[s + j];
    }
  });
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Transpose

/** Drops size-1 axes and merges axes that stay adjacent and in order: the smallest equivalent transpose. */
export function simplifyTranspose(shape: number[], perm: number[]): { shape: number[]; perm: number[] } {
  const keep = shape.map((s, i) => i).filter((i) => shape[i] !== 1);
  let p = perm.filter((a) => shape[a] !== 1).map((a) => keep.indexOf(a));
  let s = keep.map((i) => shape[i]);
  // merge input axes a, a+1 that appear consecutively in p
  for (let changed = true; changed; ) {
    changed = false;
    for (let j = 0; j + 1 < p.length; j++) {
      if (p[j + 1] === p[j] + 1) {
        const a = p[j];
        s = [...s.slice(0, a), s[a] * s[a + 1], ...s.slice(a + 2)];
        p = [...p.slice(0, j + 1), ...p.slice(j + 2)].map((q) => (q > a ? q - 1 : q));
        changed = true;
        break;
      }
    }
  }
  return { shape: s, perm: p };
}

function transpose(args: KernelArgs): Info {
  const { inputs: { x }, backend, attrs = {} } = args;
  const perm: number[] = attrs.perm;
  if (x.shape.length <= 4 || x.dtype === 'string') return originals.get('Transpose')!(args) as Info;
  const outShape = perm.map((a) => x.shape[a]);
  const simple = simplifyTranspose(x.shape, perm);
  if (simple.shape.length <= 4) {
    const res = originals.get('Transpose')!({ inputs: { x: { ...x, shape: simple.shape } }, backend, attrs: { perm: simple.perm } }) as Info;
    return { ...res, shape: outShape };
  }
  const out = backend.makeOutput(outShape, x.dtype);
  const src = heapView(backend, x) as Float32Array;
  const dst = heapView(backend, out) as Float32Array;
  const { shape: s, perm: p } = simple;
  const inStrides = stridesOf(s);
  const oShape = p.map((a) => s[a]);
  const step = p.map((a) => inStrides[a]); // input stride of each output axis
  const rank = oShape.length;
  const last = oShape[rank - 1];
  const lastStep = step[rank - 1];
  const idx = new Array(rank - 1).fill(0);
  const rows = sizeOf(oShape.slice(0, -1));
  let o = 0;
  for (let r = 0; r < rows; r++) {
    let off = 0;
    for (let a = 0; a < rank - 1; a++) off += idx[a] * step[a];
    for (let j = 0; j < last; j++) dst[o++] = src[off + j * lastStep];
    for (let a = rank - 2; a >= 0; a--) {
      if (++idx[a] < oShape[a]) break;
      idx[a] = 0;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// BatchMatMul

let wasmMatMul: ((...a: unknown[]) => void) | null = null;
let wasmOfMatMul: unknown = null;

function shapeBytes(shape: number[]): Uint8Array {
  return new Uint8Array(new Int32Array(shape).buffer);
}

/** XNNPACK product [1, M, K] x [1, K, N] -> out [1, M, N] on tensors known to the wasm backend. */
function fastMatMul(backend: any, a: Info, b: Info, out: Info, m: number, k: number, n: number): void {
  if (wasmOfMatMul !== backend.wasm) {
    wasmMatMul = backend.wasm.cwrap('BatchMatMul', null, ['number', 'array', 'number', 'number', 'array', 'number', 'number', 'number', 'number']);
    wasmOfMatMul = backend.wasm;
  }
  const id = (t: Info) => backend.dataIdMap.get(t.dataId).id;
  wasmMatMul!(id(a), shapeBytes([1, m, k]), 3, id(b), shapeBytes([1, k, n]), 3, false, false, id(out));
}

/** x [..., R, C] -> [..., C, R] through the (possibly replaced) Transpose kernel. */
function swapLast(backend: any, x: Info): Info {
  const r = x.shape.length;
  const perm = x.shape.map((_, i) => i);
  [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
  return transpose({ inputs: { x }, backend, attrs: { perm } });
}

function batchMatMul(args: KernelArgs): Info {
  const { inputs: { a: a0, b: b0 }, backend, attrs = {} } = args;
  const original = () => originals.get('BatchMatMul')!(args) as Info;
  if (a0.dtype !== 'float32' || b0.dtype !== 'float32') return original();
  const ra = a0.shape.length;
  const rb = b0.shape.length;
  const batchA = sizeOf(a0.shape.slice(0, -2));
  const batchB = sizeOf(b0.shape.slice(0, -2));
  const tA = !!attrs.transposeA;
  const tB = !!attrs.transposeB;
  if (batchA === 1 && batchB === 1 && !tA && !tB) return original();
  // Only equal batch shapes, or one side without batch: other broadcasts keep tfjs's kernel.
  const outBatch = tf.broadcast_util.assertAndGetBroadcastShape(a0.shape.slice(0, -2), b0.shape.slice(0, -2));
  if (batchA !== batchB && batchA !== 1 && batchB !== 1) return original();
  const m = tA ? a0.shape[ra - 1] : a0.shape[ra - 2];
  const k = tA ? a0.shape[ra - 2] : a0.shape[ra - 1];
  const n = tB ? b0.shape[rb - 2] : b0.shape[rb - 1];
  // One XNNPACK call per batch costs ~35-100 us of setup: below ~32k multiply-adds per batch tfjs's
  // loop is as fast (measured: 384 x [16,32]x[32,16] slower per batch, 96 x [49,32]x[32,49] 3x faster).
  if (batchB !== 1 && m * k * n < 32768) return original();
  const temps: Info[] = [];
  const a = tA ? swapLast(backend, a0) : a0; // [..., M, K]
  const b = tB ? swapLast(backend, b0) : b0; // [..., K, N]
  if (tA) temps.push(a);
  if (tB) temps.push(b);
  const batch = Math.max(batchA, batchB);
  const out = backend.makeOutput([...outBatch, m, n], 'float32'); // [..., M, N]
  if (batch * m * n > 0) {
    if (batchB === 1) {
      fastMatMul(backend, a, b, out, batchA * m, k, n); // rows of every batch at once
    } else {
      const [ao, bo, oo] = [offsetOf(backend, a), offsetOf(backend, b), offsetOf(backend, out)];
      for (let i = 0; i < batch; i++) {
        const av = makeView(backend, [1, m, k], ao + (batchA === 1 ? 0 : i) * m * k * 4);
        const bv = makeView(backend, [1, k, n], bo + i * k * n * 4);
        const ov = makeView(backend, [1, m, n], oo + i * m * n * 4);
        fastMatMul(backend, av, bv, ov, m, k, n);
        dropView(backend, av);
        dropView(backend, bv);
        dropView(backend, ov);
      }
    }
  }
  for (const t of temps) backend.disposeData(t.dataId);
  return out;
}

// ---------------------------------------------------------------------------------------------------

const REPLACEMENTS: Record<string, KernelFunc> = {
  BatchMatMul: batchMatMul,
  Slice: slice,
  SplitV: splitV as KernelFunc,
  Unpack: unpack as KernelFunc,
  Concat: concat,
  Transpose: transpose,
};

/**
 * Replaces tfjs-backend-wasm's BatchMatMul, Slice, SplitV, Unpack, Concat and Transpose with the
 * versions above (keeping the originals for the cases they hand back). Idempotent; returns whether
 * the kernels are in place. initBackend('wasm') calls it unless `wasmKernels: 'tfjs'`.
 */
export function registerFaeWasmKernels(): boolean {
  if (installed) return true;
  for (const name of Object.keys(REPLACEMENTS)) {
    const k = tf.getKernel(name, 'wasm');
    if (!k) return false;
  }
  for (const [name, func] of Object.entries(REPLACEMENTS)) {
    const k = tf.getKernel(name, 'wasm')!;
    originals.set(name, k.kernelFunc as unknown as KernelFunc);
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({ ...k, kernelFunc: func as unknown as tf.KernelFunc });
  }
  installed = true;
  return true;
}

/** Puts tfjs-backend-wasm's own kernels back (for tests and comparisons). */
export function unregisterFaeWasmKernels(): void {
  if (!installed) return;
  for (const [name, func] of originals) {
    const k = tf.getKernel(name, 'wasm')!;
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({ ...k, kernelFunc: func as unknown as tf.KernelFunc });
  }
  originals.clear();
  installed = false;
}

/** Whether FAE's wasm kernels are registered. */
export function faeWasmKernelsInstalled(): boolean {
  return installed;
}

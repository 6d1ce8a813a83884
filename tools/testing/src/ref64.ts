// Float64 reference implementations for tests: plain loops over Float64Array, written from the
// definitions (not from tfjs), so a test compares our float32 ops against an independent answer.
import * as tf from '@tensorflow/tfjs-core';

export interface Nd {
  shape: number[];
  data: Float64Array;
}

export const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

export function nd(shape: number[], data?: ArrayLike<number>): Nd {
  const d = data ? Float64Array.from(data) : new Float64Array(size(shape));
  if (d.length !== size(shape)) throw new Error(`nd: ${d.length} values for shape [${shape}]`);
  return { shape: shape.slice(), data: d };
}

export async function fromTensor(t: tf.Tensor): Promise<Nd> {
  return nd(t.shape, (await t.data()) as ArrayLike<number>);
}

/** float32 tensor from a reference array (rounding to float32). */
export function toTensor(a: Nd): tf.Tensor {
  return tf.tensor(Float32Array.from(a.data), a.shape);
}

/** Deterministic pseudo-random values in [-scale, scale] (mulberry32), for test inputs. */
export function randomNd(shape: number[], seed: number, scale = 1): Nd {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = nd(shape);
  for (let i = 0; i < out.data.length; i++) out.data[i] = Math.fround(scale * (2 * next() - 1));
  return out;
}

/** Batched matmul over leading dims: [..., M, K] x [..., K, N] (same leading dims, or b 2-D). */
export function matmul(a: Nd, b: Nd): Nd {
  const M = a.shape[a.shape.length - 2], K = a.shape[a.shape.length - 1];
  const N = b.shape[b.shape.length - 1];
  if (b.shape[b.shape.length - 2] !== K) throw new Error(`matmul: inner dims ${K} vs ${b.shape[b.shape.length - 2]}`);
  const lead = a.shape.slice(0, -2);
  const batches = size(lead);
  const bBatched = b.shape.length > 2;
  const out = nd([...lead, M, N]);
  for (let p = 0; p < batches; p++) {
    const ao = p * M * K, bo = bBatched ? p * K * N : 0, oo = p * M * N;
    for (let i = 0; i < M; i++)
      for (let k = 0; k < K; k++) {
        const av = a.data[ao + i * K + k];
        for (let j = 0; j < N; j++) out.data[oo + i * N + j] += av * b.data[bo + k * N + j];
      }
  }
  return out;
}

/** Permute axes. */
export function transpose(a: Nd, perm: number[]): Nd {
  const shape = perm.map((p) => a.shape[p]);
  const out = nd(shape);
  const inStrides = strides(a.shape);
  const idx = new Array(shape.length).fill(0);
  for (let o = 0; o < out.data.length; o++) {
    let src = 0;
    for (let d = 0; d < shape.length; d++) src += idx[d] * inStrides[perm[d]];
    out.data[o] = a.data[src];
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

export function strides(shape: readonly number[]): number[] {
  const s = new Array(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

export function reshape(a: Nd, shape: number[]): Nd {
  return nd(shape, a.data);
}

/** Elementwise map. */
export function map(a: Nd, f: (x: number, i: number) => number): Nd {
  const out = nd(a.shape);
  for (let i = 0; i < a.data.length; i++) out.data[i] = f(a.data[i], i);
  return out;
}

/** a + b where b broadcasts over a's leading dims (b's shape is a suffix of a's). */
export function addSuffix(a: Nd, b: Nd): Nd {
  const n = b.data.length;
  return map(a, (x, i) => x + b.data[i % n]);
}

export function mulSuffix(a: Nd, b: Nd): Nd {
  const n = b.data.length;
  return map(a, (x, i) => x * b.data[i % n]);
}

/** Applies f to each row along the last axis. */
export function rows(a: Nd, f: (row: Float64Array) => ArrayLike<number>, outWidth?: number): Nd {
  const w = a.shape[a.shape.length - 1];
  const ow = outWidth ?? w;
  const n = a.data.length / w;
  const out = nd([...a.shape.slice(0, -1), ow]);
  for (let r = 0; r < n; r++) out.data.set(f(a.data.subarray(r * w, (r + 1) * w)), r * ow);
  return out;
}

export function softmax(a: Nd): Nd {
  return rows(a, (r) => {
    const m = Math.max(...r);
    const e = Array.from(r, (x) => Math.exp(x - m));
    const s = e.reduce((p, q) => p + q, 0);
    return e.map((x) => x / s);
  });
}

export function layerNorm(a: Nd, w: Nd | null, b: Nd | null, eps: number): Nd {
  return rows(a, (r) => {
    const mean = r.reduce((p, q) => p + q, 0) / r.length;
    const v = r.reduce((p, q) => p + (q - mean) ** 2, 0) / r.length;
    return Array.from(r, (x, i) => ((x - mean) / Math.sqrt(v + eps)) * (w ? w.data[i] : 1) + (b ? b.data[i] : 0));
  });
}

export function rmsNorm(a: Nd, w: Nd | null, eps: number): Nd {
  return rows(a, (r) => {
    const ms = r.reduce((p, q) => p + q * q, 0) / r.length;
    return Array.from(r, (x, i) => (x / Math.sqrt(ms + eps)) * (w ? w.data[i] : 1));
  });
}

/** erf to ~1e-15 (series / continued fraction switch), for exact GELU references. */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    // Maclaurin series
    let sum = 0, term = ax, n = 0;
    while (Math.abs(term) > 1e-17 * Math.abs(sum) || n < 3) {
      sum += term / (2 * n + 1);
      n++;
      term *= -(ax * ax) / n;
      if (n > 200) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc continued fraction (Lentz)
  let f = ax, C = ax, D = 0;
  for (let k = 1; k < 200; k++) {
    const an = k / 2;
    D = ax + an * D;
    D = 1 / D;
    C = ax + an / C;
    const delta = C * D;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

export const gelu = (x: number) => 0.5 * x * (1 + erf(x / Math.SQRT2));
export const geluTanh = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
export const silu = (x: number) => x / (1 + Math.exp(-x));

/** Linear with a PyTorch-layout weight [out, in]: x [..., in] -> [..., out]. */
export function linearTorch(x: Nd, w: Nd, b: Nd | null): Nd {
  const y = matmul(reshape(x, [size(x.shape.slice(0, -1)), x.shape[x.shape.length - 1]]), transpose(w, [1, 0]));
  const out = reshape(y, [...x.shape.slice(0, -1), w.shape[0]]);
  return b ? addSuffix(out, b) : out;
}

/** Attention: q [B,H,Tq,D], k [B,H,Tk,D], v [B,H,Tk,Dv], optional causal. */
export function attention(q: Nd, k: Nd, v: Nd, opts: { scale?: number; causal?: boolean } = {}): Nd {
  const d = q.shape[3];
  const tq = q.shape[2], tk = k.shape[2];
  const scale = opts.scale ?? 1 / Math.sqrt(d);
  let s = map(matmul(q, transpose(k, [0, 1, 3, 2])), (x) => x * scale);
  if (opts.causal) s = map(s, (x, i) => ((i % tk) > Math.floor(i / tk) % tq + (tk - tq) ? -Infinity : x));
  return matmul(softmax(s), v);
}

import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { describeBackends, expectClose, ref64 } from '@fae/testing';
import { faeWasmKernelsInstalled, registerFaeWasmKernels, simplifyTranspose } from '@fae/core';

// FAE's wasm replacements (BatchMatMul on XNNPACK for batched/transposed products, heap-view Slice /
// SplitV / Unpack / Concat, rank-5+ Transpose) against float64 references, at shapes with odd sizes,
// batch broadcast and every transpose flag. Runs where the wasm backend runs.

function swapLastPerm(rank: number): number[] {
  const p = [...Array(rank).keys()];
  [p[rank - 2], p[rank - 1]] = [p[rank - 1], p[rank - 2]];
  return p;
}

const MATMULS: Array<{ a: number[]; b: number[]; tA?: boolean; tB?: boolean }> = [
  { a: [5, 7], b: [7, 3], tA: false },
  { a: [7, 5], b: [7, 3], tA: true },
  { a: [5, 7], b: [3, 7], tB: true },
  { a: [7, 5], b: [3, 7], tA: true, tB: true },
  { a: [4, 9, 6], b: [4, 6, 5] },
  { a: [2, 3, 9, 6], b: [2, 3, 5, 6], tB: true },
  { a: [2, 3, 6, 9], b: [2, 3, 6, 5], tA: true },
  { a: [3, 9, 6], b: [6, 5] },
  { a: [9, 6], b: [3, 6, 5] },
  { a: [3, 6, 9], b: [5, 6], tA: true, tB: true },
  // >= 32k multiply-adds per batch: one XNNPACK product per batch on views
  { a: [3, 40, 33], b: [3, 33, 30] },
  { a: [2, 2, 33, 40], b: [2, 2, 30, 33], tA: true, tB: true },
  { a: [40, 33], b: [3, 33, 30] },
];

describeBackends('FAE wasm kernels', () => {
  it('are registered by initBackend on wasm', () => {
    expect(registerFaeWasmKernels()).toBe(true);
    expect(faeWasmKernelsInstalled()).toBe(true);
  });

  for (const [i, c] of MATMULS.entries()) {
    it(`matMul a ${c.a}${c.tA ? 'ᵀ' : ''} x b ${c.b}${c.tB ? 'ᵀ' : ''} matches float64`, async () => {
      const a = ref64.randomNd(c.a, 30 + i);
      const b = ref64.randomNd(c.b, 40 + i);
      const a2 = c.tA ? ref64.transpose(a, swapLastPerm(c.a.length)) : a; // [..., M, K]
      const b2 = c.tB ? ref64.transpose(b, swapLastPerm(c.b.length)) : b; // [..., K, N]
      // broadcast the side without batch over the other's batch for the reference
      const lead = a2.shape.length > 2 ? a2.shape.slice(0, -2) : b2.shape.slice(0, -2);
      const batch = lead.reduce((x, y) => x * y, 1);
      const [m, k] = a2.shape.slice(-2);
      const n = b2.shape.at(-1)!;
      const out = new Float64Array(batch * m * n);
      for (let bi = 0; bi < batch; bi++) {
        const ao = a2.shape.length > 2 ? bi * m * k : 0;
        const bo = b2.shape.length > 2 ? bi * k * n : 0;
        for (let r = 0; r < m; r++) for (let col = 0; col < n; col++) {
          let s = 0;
          for (let j = 0; j < k; j++) s += a2.data[ao + r * k + j] * b2.data[bo + j * n + col];
          out[(bi * m + r) * n + col] = s;
        }
      }
      const [at, bt] = [ref64.toTensor(a), ref64.toTensor(b)];
      const y = tf.matMul(at, bt, c.tA, c.tB);
      expect(y.shape).toEqual([...lead, m, n]);
      await expectClose(y, out, 1e-5);
      tf.dispose([y, at, bt]);
    });
  }

  it('matMul gradients (transposed products) match float64', async () => {
    const a = ref64.randomNd([2, 3, 5, 4], 1);
    const b = ref64.randomNd([2, 3, 4, 6], 2);
    const dy = ref64.randomNd([2, 3, 5, 6], 3);
    const [at, bt, dyt] = [a, b, dy].map(ref64.toTensor);
    const [ga, gb] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.matMul(x, y))([at, bt], dyt);
    // dA = dY B^T, dB = A^T dY per batch
    const bT = ref64.transpose(b, [0, 1, 3, 2]);
    const aT = ref64.transpose(a, [0, 1, 3, 2]);
    await expectClose(ga, ref64.matmul(dy, bT).data, 1e-5);
    await expectClose(gb, ref64.matmul(aT, dy).data, 1e-5);
    tf.dispose([at, bt, dyt, ga, gb]);
  });

  it('leave no tensor or view behind in the backend', () => {
    const backend = tf.backend() as unknown as { dataIdMap: { numDataIds(): number } };
    const before = [tf.memory().numTensors, backend.dataIdMap.numDataIds()];
    tf.tidy(() => {
      const a = tf.randomNormal([2, 2, 33, 40]);
      const b = tf.randomNormal([2, 2, 30, 33]);
      tf.matMul(a, b, true, true);
      tf.transpose(tf.randomNormal([2, 3, 2, 3, 2]), [4, 2, 0, 3, 1]);
      tf.split(a, 4, 3);
      tf.unstack(a, 1);
    });
    expect([tf.memory().numTensors, backend.dataIdMap.numDataIds()]).toEqual(before);
  });

  it('slice, split, unstack and concat move exactly the right elements', async () => {
    const x = ref64.randomNd([3, 5, 4, 6], 7);
    const xt = ref64.toTensor(x);
    const at = (i: number, j: number, k: number, l: number) => x.data[((i * 5 + j) * 4 + k) * 6 + l];
    const pick = (shape: number[], f: (ix: number[]) => number) => {
      const out: number[] = [];
      const idx = shape.map(() => 0);
      for (let n = 0; n < shape.reduce((p, q) => p * q, 1); n++) {
        out.push(f(idx));
        for (let d = shape.length - 1; d >= 0; d--) { if (++idx[d] < shape[d]) break; idx[d] = 0; }
      }
      return out;
    };
    const s = tf.slice(xt, [1, 2, 1, 3], [2, 2, 3, 2]); // last axis, narrow
    expect(await s.data()).toEqual(new Float32Array(pick([2, 2, 3, 2], ([i, j, k, l]) => at(i + 1, j + 2, k + 1, l + 3))));
    const c = tf.slice(xt, [1, 0, 0, 0], [1, 5, 4, 6]); // contiguous
    expect(await c.data()).toEqual(new Float32Array(pick([1, 5, 4, 6], ([i, j, k, l]) => at(i + 1, j, k, l))));
    const parts = tf.split(xt, [1, 2, 3], 3); // last axis, uneven
    expect(await parts[2].data()).toEqual(new Float32Array(pick([3, 5, 4, 3], ([i, j, k, l]) => at(i, j, k, l + 3))));
    const un = tf.unstack(xt, 2); // middle axis
    expect(un).toHaveLength(4);
    expect(un[3].shape).toEqual([3, 5, 6]);
    expect(await un[3].data()).toEqual(new Float32Array(pick([3, 5, 6], ([i, j, l]) => at(i, j, 3, l))));
    const joined = tf.concat(parts, 3); // narrow rows back together
    expect(await joined.data()).toEqual(new Float32Array(x.data));
    const wide = tf.concat([xt, xt], 1);
    expect(await wide.data()).toEqual(new Float32Array(pick([3, 10, 4, 6], ([i, j, k, l]) => at(i, j % 5, k, l))));
    const ints = tf.slice(tf.reshape(tf.range(0, 24, 1, 'int32'), [4, 6]), [1, 1], [2, 3]);
    expect(Array.from(await ints.data())).toEqual([7, 8, 9, 13, 14, 15]);
    tf.dispose([xt, s, c, ...parts, ...un, joined, wide, ints]);
  });

  it('rank-5 and rank-6 transposes match float64', async () => {
    for (const [shape, perm] of [
      [[4, 7, 3, 2, 5], [2, 0, 3, 1, 4]],
      [[2, 3, 4, 5, 6], [4, 3, 2, 1, 0]],
      [[2, 3, 4, 5, 6], [0, 1, 3, 4, 2]], // reducible to rank 3
      [[2, 1, 3, 2, 2, 3], [5, 0, 3, 2, 1, 4]],
    ] as Array<[number[], number[]]>) {
      const x = ref64.randomNd(shape, shape.length);
      const xt = ref64.toTensor(x);
      const y = tf.transpose(xt, perm);
      expect(y.shape).toEqual(perm.map((p) => shape[p]));
      expect(await y.data()).toEqual(new Float32Array(ref64.transpose(x, perm).data));
      tf.dispose([xt, y]);
    }
  });

  it('simplifyTranspose drops unit axes and merges axes that stay together', () => {
    expect(simplifyTranspose([2, 3, 4, 5, 6], [0, 1, 3, 4, 2])).toEqual({ shape: [6, 4, 30], perm: [0, 2, 1] });
    expect(simplifyTranspose([4, 7, 3, 2, 5], [2, 0, 3, 1, 4])).toEqual({ shape: [4, 7, 3, 2, 5], perm: [2, 0, 3, 1, 4] });
    expect(simplifyTranspose([2, 1, 3], [1, 0, 2])).toEqual({ shape: [6], perm: [0] });
  });
}, { backends: ['wasm'] });

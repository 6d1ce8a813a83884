import * as tf from '@tensorflow/tfjs-core';
import { expect, it, afterAll } from 'vitest';
import { describeBackends, expectClose, ref64 } from '@fae/testing';
import { registerFaeWebGPUKernels, unregisterFaeWebGPUKernels, faeWebGPUKernelsEnabled, configureFaeWebGPUKernels } from '@fae/core';

// The tiled matmul against float64 references, at shapes that do and do not divide its 128x128x16
// tiles, with transposes, batch broadcast and fused bias/activation; run on software Vulkan in CI.
const CASES: Array<{ a: number[]; b: number[]; tA?: boolean; tB?: boolean }> = [
  { a: [128, 64], b: [64, 128] },
  { a: [130, 70], b: [70, 129] },
  { a: [3, 200, 33], b: [3, 33, 77] },
  { a: [2, 3, 40, 50], b: [50, 61] },
  { a: [70, 45], b: [90, 70], tA: true, tB: true },
  { a: [2, 64, 96], b: [2, 80, 96], tB: true },
  { a: [96, 65], b: [96, 130], tA: true },
];

describeBackends('FAE WebGPU kernels: tiled matmul', () => {
  let saved: ReturnType<typeof configureFaeWebGPUKernels>;
  afterAll(() => {
    unregisterFaeWebGPUKernels();
    configureFaeWebGPUKernels(saved);
  });
  it('registers in place of tfjs kernels', () => {
    // choose the tiled kernel for every case, small shapes and A-transposed products included
    saved = configureFaeWebGPUKernels({});
    configureFaeWebGPUKernels({ minWork: 0, minTiles: 0, transposeA: true, matmul: 'scalar' });
    expect(registerFaeWebGPUKernels()).toBe(true);
    expect(faeWebGPUKernelsEnabled()).toBe(true);
  });
  for (const [i, c] of CASES.entries()) {
    it(`matches float64 at a ${c.a} x b ${c.b}${c.tA ? ' tA' : ''}${c.tB ? ' tB' : ''}`, async () => {
      registerFaeWebGPUKernels();
      const a = ref64.randomNd(c.a, 10 + i);
      const b = ref64.randomNd(c.b, 20 + i);
      const a2 = c.tA ? ref64.transpose(a, [...c.a.keys()].map((d, _, arr) => (d < arr.length - 2 ? d : d === arr.length - 2 ? arr.length - 1 : arr.length - 2))) : a;
      const b2 = c.tB ? ref64.transpose(b, [...c.b.keys()].map((d, _, arr) => (d < arr.length - 2 ? d : d === arr.length - 2 ? arr.length - 1 : arr.length - 2))) : b;
      const aLead = a2.shape.slice(0, -2);
      const bLead = b2.shape.slice(0, -2);
      // broadcast b over a's batch for the reference
      let expected: ref64.Nd;
      if (bLead.length === 0 && aLead.length > 0) {
        const flat = ref64.reshape(a2, [aLead.reduce((x, y) => x * y, 1) * a2.shape[a2.shape.length - 2], a2.shape[a2.shape.length - 1]]);
        expected = ref64.reshape(ref64.matmul(flat, b2), [...aLead, a2.shape.at(-2)!, b2.shape.at(-1)!]);
      } else expected = ref64.matmul(a2, b2);
      const [at, bt] = [ref64.toTensor(a), ref64.toTensor(b)];
      const y = tf.matMul(at, bt, c.tA, c.tB);
      expect(y.shape).toEqual(expected.shape);
      await expectClose(y, expected.data, 1e-5);
      tf.dispose([y]);
      if (i !== 1) {
        tf.dispose([at, bt]);
        return; // the fused epilogue is one more shader variant: checked once (compiling is slow on lavapipe)
      }
      const bias = ref64.randomNd([expected.shape.at(-1)!], 30 + i);
      const yf = tf.fused.matMul({ a: at, b: bt, transposeA: c.tA, transposeB: c.tB, bias: ref64.toTensor(bias), activation: 'relu' });
      await expectClose(yf, ref64.map(ref64.addSuffix(expected, bias), (x) => Math.max(x, 0)).data, 1e-5);
      tf.dispose([at, bt, yf]);
    });
  }
  it('gradients through the kernel match float64', async () => {
    registerFaeWebGPUKernels();
    const a = ref64.randomNd([70, 90], 41);
    const b = ref64.randomNd([90, 130], 42);
    const g = ref64.randomNd([70, 130], 43);
    const [at, bt, gt] = [a, b, g].map(ref64.toTensor);
    const [da, db] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x, y), gt)))([at, bt]);
    await expectClose(da, ref64.matmul(g, ref64.transpose(b, [1, 0])).data, 1e-5);
    await expectClose(db, ref64.matmul(ref64.transpose(a, [1, 0]), g).data, 1e-5);
    tf.dispose([at, bt, gt, da, db]);
  });
}, { backends: ['webgpu'] });

// The vec4 double-buffered kernel (matmul-vec4.ts) against float64 at 16-byte-aligned shapes that do
// not divide its 128x128 tiles or its K slices, for both slice depths, with transposes, batch
// broadcast, several K slices (double buffering) and the fused bias/activation epilogue.
const VEC_CASES: Array<{ a: number[]; b: number[]; tA?: boolean; tB?: boolean; bias?: boolean }> = [
  { a: [132, 68], b: [68, 136], bias: true },
  { a: [2, 3, 40, 52], b: [52, 60] },
  { a: [68, 132], b: [196, 68], tA: true, tB: true },
  { a: [2, 72, 100], b: [2, 36, 100], tB: true },
];

describeBackends('FAE WebGPU kernels: vec4 matmul', () => {
  let saved: ReturnType<typeof configureFaeWebGPUKernels>;
  afterAll(() => {
    unregisterFaeWebGPUKernels();
    configureFaeWebGPUKernels(saved);
  });
  for (const tileK of [16, 8] as const) {
    for (const [i, c] of VEC_CASES.entries()) {
      it(`BK ${tileK}: matches float64 at a ${c.a} x b ${c.b}${c.tA ? ' tA' : ''}${c.tB ? ' tB' : ''}${c.bias ? ' + bias, relu' : ''}`, async () => {
        saved ??= configureFaeWebGPUKernels({});
        configureFaeWebGPUKernels({ minWork: 0, minTiles: 0, transposeA: true, matmul: 'vec4', vec4TileK: tileK });
        expect(registerFaeWebGPUKernels()).toBe(true);
        const swapLast = (n: number) => [...Array(n).keys()].map((d) => (d < n - 2 ? d : d === n - 2 ? n - 1 : n - 2));
        const a = ref64.randomNd(c.a, 50 + i);
        const b = ref64.randomNd(c.b, 60 + i);
        const a2 = c.tA ? ref64.transpose(a, swapLast(c.a.length)) : a; // [..., M, K]
        const b2 = c.tB ? ref64.transpose(b, swapLast(c.b.length)) : b; // [..., K, N]
        const aLead = a2.shape.slice(0, -2);
        let expected: ref64.Nd;
        if (b2.shape.length === 2 && aLead.length > 0) {
          const flat = ref64.reshape(a2, [aLead.reduce((x, y) => x * y, 1) * a2.shape.at(-2)!, a2.shape.at(-1)!]);
          expected = ref64.reshape(ref64.matmul(flat, b2), [...aLead, a2.shape.at(-2)!, b2.shape.at(-1)!]);
        } else expected = ref64.matmul(a2, b2);
        const [at, bt] = [ref64.toTensor(a), ref64.toTensor(b)];
        const before = tf.memory().numTensors;
        if (c.bias) {
          const bias = ref64.randomNd([expected.shape.at(-1)!], 70 + i);
          const bT = ref64.toTensor(bias);
          const yf = tf.fused.matMul({ a: at, b: bt, transposeA: c.tA, transposeB: c.tB, bias: bT, activation: 'relu' });
          expect(yf.shape).toEqual(expected.shape);
          await expectClose(yf, ref64.map(ref64.addSuffix(expected, bias), (x) => Math.max(x, 0)).data, 1e-5);
          tf.dispose([yf, bT]);
        } else {
          const y = tf.matMul(at, bt, c.tA, c.tB);
          expect(y.shape).toEqual(expected.shape);
          await expectClose(y, expected.data, 1e-5);
          y.dispose();
        }
        expect(tf.memory().numTensors).toBe(before);
        tf.dispose([at, bt]);
      });
    }
  }
}, { backends: ['webgpu'] });

// The skinny kernel (few rows against one weight matrix, matmul-skinny.ts) against float64: every row
// bucket, ragged N and K, B transposed, rows from a batch, the bias/activation epilogue.
const SKINNY: Array<{ a: number[]; b: number[]; tB?: boolean; bias?: boolean }> = [
  { a: [1, 100], b: [100, 70] },
  { a: [5, 37], b: [33, 37], tB: true },
  { a: [8, 64], b: [64, 96], bias: true },
  { a: [9, 50], b: [50, 33] },
  { a: [3, 4, 29], b: [29, 65], bias: true },
  { a: [1, 12, 40], b: [70, 40], tB: true },
  { a: [2, 300], b: [300, 20] }, // three staged chunks of A, a ragged last one
  { a: [3, 257], b: [20, 257], tB: true },
  { a: [32, 48], b: [48, 40] },
];
describeBackends('FAE WebGPU kernels: skinny matmul', () => {
  let saved: ReturnType<typeof configureFaeWebGPUKernels>;
  afterAll(() => {
    unregisterFaeWebGPUKernels();
    configureFaeWebGPUKernels(saved);
  });
  it('registers, taking every product with <= 32 rows', () => {
    saved = configureFaeWebGPUKernels({});
    configureFaeWebGPUKernels({ skinnyRows: 32, skinnyMinWeights: 0 });
    expect(registerFaeWebGPUKernels()).toBe(true);
  });
  for (const [i, c] of SKINNY.entries()) {
    it(`matches float64 at a ${c.a} x b ${c.b}${c.tB ? ' tB' : ''}${c.bias ? ' + bias, relu' : ''}`, async () => {
      registerFaeWebGPUKernels();
      const a = ref64.randomNd(c.a, 50 + i);
      const b = ref64.randomNd(c.b, 60 + i);
      const b2 = c.tB ? ref64.transpose(b, [1, 0]) : b;
      const k = c.a.at(-1)!;
      const rows = c.a.slice(0, -1).reduce((x, y) => x * y, 1);
      let expected = ref64.matmul(ref64.reshape(a, [rows, k]), b2);
      const n = expected.shape[1];
      const [at, bt] = [ref64.toTensor(a), ref64.toTensor(b)];
      let y: tf.Tensor;
      if (c.bias) {
        const bias = ref64.randomNd([n], 70 + i);
        expected = ref64.map(ref64.addSuffix(expected, bias), (x) => Math.max(x, 0));
        const bt2 = ref64.toTensor(bias);
        y = tf.fused.matMul({ a: at, b: bt, transposeB: c.tB, bias: bt2, activation: 'relu' });
        bt2.dispose();
      } else y = tf.matMul(at, bt, false, c.tB);
      expect(y.shape).toEqual([...c.a.slice(0, -1), n]);
      await expectClose(y, expected.data, 1e-5);
      tf.dispose([at, bt, y]);
    });
  }
}, { backends: ['webgpu'] });

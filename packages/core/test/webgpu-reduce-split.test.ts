import * as tf from '@tensorflow/tfjs-core';
import { afterAll, expect, it } from 'vitest';
import { describeBackends, expectClose, expectNoLeaks, ref64 } from '@fae/testing';
import { registerFaeWebGPUKernels, splitPlan, splitReduceStats, SPLIT_REDUCE_POLICY } from '@fae/core';

// Sum / Mean over large inner extents in two passes on webgpu (reduce-split.ts), against float64.
it('plans splits only for few outputs over many innermost elements', () => {
  expect(splitPlan([64, 256, 768], [0, 1, 2], 'float32')).toEqual([1, 4096, 3072]);
  expect(splitPlan([3, 70000], [1], 'float32')).toEqual([3, 70000 / 280, 280]);
  expect(splitPlan([3, 70000], [0], 'float32')).toBeNull(); // not innermost: tfjs transposes first
  expect(splitPlan([1000, 70000], [1], 'float32')).toBeNull(); // enough workgroups already
  expect(splitPlan([1, 1000], [1], 'float32')).toBeNull(); // small
  expect(splitPlan([1, 65537 * 3], [1], 'float32')).toBeNull(); // 3 * 65537 (prime): no chunk in range
  expect(splitPlan([1, 1 << 17], [1], 'bool')).toBeNull();
  expect(SPLIT_REDUCE_POLICY.minInner).toBe(65536);
});

describeBackends('FAE WebGPU kernels: two-pass Sum / Mean', ({ backend }) => {
  // webgpu only: the other backends do not use the kernel (wasm's one-pass float32 sum of ~1e5 values
  // drifts past 1e-5 relative here, which says nothing about this kernel)
  const ready = () => backend !== 'webgpu' || registerFaeWebGPUKernels();
  const CASES: Array<{ shape: number[]; axis: number[]; keepDims?: boolean }> = [
    { shape: [1, 256, 384], axis: [0, 1, 2] },
    { shape: [3, 70000], axis: [1], keepDims: true },
    { shape: [2, 4, 256, 320], axis: [2, 3] },
  ];
  const before = splitReduceStats.calls;
  afterAll(() => {
    // on webgpu every case above took the split path (sum and mean)
    if (backend === 'webgpu') expect(splitReduceStats.calls - before).toBe(2 * CASES.length + 1);
  });
  for (const [i, c] of CASES.entries()) {
    it(`sum and mean of [${c.shape}] over [${c.axis}]${c.keepDims ? ' (keepDims)' : ''} match float64`, async () => {
      expect(ready()).toBe(true);
      const x = ref64.randomNd(c.shape, 40 + i);
      const outer = c.shape.filter((_, d) => !c.axis.includes(d)).reduce((a, b) => a * b, 1);
      const inner = x.data.length / outer;
      const sums = Array.from({ length: outer }, (_, o) => x.data.slice(o * inner, (o + 1) * inner).reduce((a, b) => a + b, 0));
      const xt = ref64.toTensor(x);
      const s = await expectNoLeaks(() => tf.sum(xt, c.axis, c.keepDims));
      const m = await expectNoLeaks(() => tf.mean(xt, c.axis, c.keepDims));
      const outShape = c.keepDims ? c.shape.map((d, k) => (c.axis.includes(k) ? 1 : d)) : c.shape.filter((_, k) => !c.axis.includes(k));
      expect(s.shape).toEqual(outShape);
      expect(m.shape).toEqual(outShape);
      // float32 sums of ~1e5 values in [-1, 1], relative to the largest |sum| (~sqrt(n))
      await expectClose(s, sums, 1e-5, 'sum');
      await expectClose(m, sums.map((v) => v / inner), 1e-5, 'mean');
      tf.dispose([xt, s, m]);
    });
  }
  it('int32 sums are exact', async () => {
    expect(ready()).toBe(true);
    const n = 1 << 17;
    const data = Int32Array.from({ length: n }, (_, k) => ((k * 2654435761) >>> 0) % 2001 - 1000);
    const expected = data.reduce((a, b) => a + b, 0);
    const xt = tf.tensor1d(data, 'int32');
    const s = tf.sum(xt);
    expect(s.dtype).toBe('int32');
    expect((await s.data())[0]).toBe(expected);
    tf.dispose([xt, s]);
  });
}, { backends: ['webgpu'] });

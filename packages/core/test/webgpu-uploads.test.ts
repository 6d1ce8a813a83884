import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { describeBackends } from '@fae/testing';
import { queueUploadStats, registerFaeWebGPUKernels, uninstallQueueUploads, installQueueUploads } from '@fae/core';

// Uploads through queue.writeBuffer into pooled buffers (uploads.ts): same values as tfjs's own path,
// and no buffer creation once the pool holds the sizes in use.
describeBackends('FAE WebGPU uploads', () => {
  it('uploads float32, int32 and bool values exactly', async () => {
    expect(registerFaeWebGPUKernels()).toBe(true);
    const before = queueUploadStats.uploads;
    const f = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 1e3 + 1e-7 * i);
    const x = tf.tensor1d(f);
    const y = tf.neg(x); // forces the upload
    expect(Array.from(await y.data())).toEqual(Array.from(f, (v) => -v));
    const ints = Int32Array.from({ length: 2048 }, (_, i) => ((i * 7919) % 100003) * (i % 2 ? -97 : 89)); // |v| < 2^24: exact in tfjs's float neg
    const xi = tf.tensor1d(ints, 'int32');
    const yi = tf.neg(xi);
    expect(Array.from(await yi.data())).toEqual(Array.from(ints, (v) => (-v) | 0));
    // (tensors under 1,000 elements run on tfjs's CPU path and are never uploaded: these are larger)
    const bits = Array.from({ length: 1500 }, (_, i) => i % 3 === 0);
    const b = tf.tensor1d(bits, 'bool');
    const nb = tf.logicalNot(b);
    expect(Array.from(await nb.data())).toEqual(bits.map((v) => (v ? 0 : 1)));
    const big = tf.tensor2d(new Float32Array(1600).fill(2.5), [40, 40]);
    const minusOne = tf.scalar(-1);
    const s = tf.add(big, minusOne);
    expect(Array.from(await s.data()).every((v) => v === 1.5)).toBe(true);
    expect(queueUploadStats.uploads - before).toBe(5); // four arrays and the scalar
    tf.dispose([x, y, xi, yi, b, nb, big, minusOne, s]);
  });

  it('creates no GPU buffers for repeated uploads once the pool is warm (tfjs created one per upload)', async () => {
    const backend = tf.backend() as any;
    const device = backend.device;
    const create = device.createBuffer;
    let created = 0;
    device.createBuffer = function (desc: unknown) {
      created++;
      return create.call(device, desc);
    };
    const round = async (i: number) => {
      const x = tf.tensor2d(Float32Array.from({ length: 4096 }, (_, k) => k + i), [64, 64]);
      const two = tf.scalar(2);
      const y = tf.mul(x, two);
      const v = await y.data();
      tf.dispose([x, two, y]);
      return v[5];
    };
    const count = async (mode: 'fae' | 'tfjs') => {
      if (mode === 'tfjs') uninstallQueueUploads(backend);
      else installQueueUploads(backend);
      for (let i = 0; i < 3; i++) await round(i); // warm the pool for these sizes
      created = 0;
      for (let i = 0; i < 10; i++) expect(await round(i)).toBe(2 * (5 + i));
      return created;
    };
    try {
      const tfjsCreated = await count('tfjs');
      const faeCreated = await count('fae');
      expect(tfjsCreated).toBeGreaterThanOrEqual(10); // a staging buffer per upload
      expect(faeCreated).toBe(0);
    } finally {
      device.createBuffer = create;
      installQueueUploads(backend);
    }
  });
}, { backends: ['webgpu'] });

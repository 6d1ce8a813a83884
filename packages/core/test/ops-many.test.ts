import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { describeBackends, expectNoLeaks } from '@fae/testing';
import { addMany, concatMany, stackMany } from '@fae/core';

// tfjs-backend-webgpu 4.22 gets tf.addN / tf.stack wrong with 8 or more inputs (storage-buffer
// limit); these helpers must be right for any count on every backend.
describeBackends('ops over many tensors', () => {
  it('addMany sums 1, 7, 8 and 23 tensors', async () => {
    for (const n of [1, 7, 8, 23]) {
      const xs = Array.from({ length: n }, (_, i) => tf.fill([3], i + 1));
      const y = await expectNoLeaks(() => addMany(xs));
      expect(Array.from(await y.data())).toEqual([0, 1, 2].map(() => (n * (n + 1)) / 2));
      tf.dispose([...xs, y]);
    }
  });
  it('stackMany and concatMany keep order for 17 inputs', async () => {
    const xs = Array.from({ length: 17 }, (_, i) => tf.scalar(i * 1.5));
    const s = stackMany(xs);
    expect(s.shape).toEqual([17]);
    expect(Array.from(await s.data())).toEqual(xs.map((_, i) => i * 1.5));
    const rows = Array.from({ length: 17 }, (_, i) => tf.fill([1, 2], i));
    const c = concatMany(rows, 0);
    expect(c.shape).toEqual([17, 2]);
    expect(Array.from(await c.data())).toEqual(rows.flatMap((_, i) => [i, i]));
    tf.dispose([...xs, ...rows, s, c]);
  });
});

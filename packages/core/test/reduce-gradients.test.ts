import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { describeBackends, expectNoLeaks } from '@fae/testing';

// Sum / Mean gradients (ops/reduce-gradients.ts): the values tfjs's own definition gives, computed
// here from it by hand (dx = broadcast(dy) and broadcast(dy) / n), with no CPU-built ones tensor.
describeBackends('Sum / Mean gradients', () => {
  const x = () => tf.tensor3d(Float32Array.from({ length: 2 * 3 * 5 }, (_, i) => Math.cos(i)), [2, 3, 5]);
  const w = () => tf.tensor2d(Float32Array.from({ length: 2 * 5 }, (_, i) => 0.5 + i), [2, 5]);
  for (const keepDims of [false, true]) {
    it(`match broadcast dy (axis 1, keepDims ${keepDims}) and a full reduction`, async () => {
      const xt = x();
      const wt = w();
      const weights = keepDims ? tf.reshape(wt, [2, 1, 5]) : wt;
      // loss = sum(w * sum(x, 1)): dL/dx[b, j, k] = w[b, k]; with mean: w[b, k] / 3
      const gs = await expectNoLeaks(() => tf.grad((a: tf.Tensor) => tf.sum(tf.mul(weights, tf.sum(a, 1, keepDims))))(xt));
      const gm = await expectNoLeaks(() => tf.grad((a: tf.Tensor) => tf.sum(tf.mul(weights, tf.mean(a, 1, keepDims))))(xt));
      const wv = await wt.data();
      const expectS = Array.from({ length: 30 }, (_, i) => wv[Math.floor(i / 15) * 5 + (i % 5)]);
      expect(Array.from(await gs.data())).toEqual(expectS);
      expect(Array.from(await gm.data())).toEqual(expectS.map((v) => Math.fround(v / 3)));
      // a full mean: every element 1 / n
      const gAll = tf.grad((a: tf.Tensor) => tf.mean(a))(xt);
      expect(Array.from(await gAll.data())).toEqual(new Array(30).fill(Math.fround(1 / 30)));
      tf.dispose([xt, wt, weights, gs, gm, gAll]);
    });
  }
  it('fills the ones on the backend (a Fill kernel), not in a JS array', async () => {
    const xt = tf.zeros([64, 64, 16]);
    let g: tf.Tensor | undefined;
    const info = await tf.profile(() => {
      g = tf.grad((a: tf.Tensor) => tf.mean(a))(xt);
      return g;
    });
    expect(info.kernelNames).toContain('Fill');
    expect((await g!.data())[123]).toBe(Math.fround(1 / 65536));
    tf.dispose([xt, g!]);
  });
});

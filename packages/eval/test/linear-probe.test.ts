import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { describeBackends, expectClose, expectNoLeaks, ref64, ref64conv, ref64eval } from '@fae/testing';
import { LinearProbe, softmaxCrossEntropy } from '@fae/eval';

describeBackends('linear probe', () => {
  it('cross-entropy + weight decay gradients match float64 central differences', async () => {
    const [N, D, C, wd] = [6, 4, 3, 0.1];
    const x = ref64.randomNd([N, D], 1, 2);
    const w = ref64.randomNd([D, C], 2);
    const b = ref64.randomNd([C], 3);
    const labels = [0, 2, 1, 1, 0, 2];
    const [xt, wt, bt] = [x, w, b].map(ref64.toTensor);
    const yt = tf.tensor1d(labels, 'int32');
    const f = (wv: tf.Tensor, bv: tf.Tensor) => tf.add(softmaxCrossEntropy(tf.add(tf.matMul(xt, wv), bv), yt), tf.mul(wd / 2, tf.sum(tf.square(wv))));
    const [gw, gb] = await expectNoLeaks(() => tf.grads(f)([wt, bt]));
    const gwRef = ref64conv.finiteDifferenceGrad((wv) => ref64eval.linearSoftmaxLoss(x.data, N, D, wv, b.data, C, labels, wd), w.data);
    const gbRef = ref64conv.finiteDifferenceGrad((bv) => ref64eval.linearSoftmaxLoss(x.data, N, D, w.data, bv, C, labels, wd), b.data);
    await expectClose(gw, gwRef, 1e-4, 'dL/dW');
    await expectClose(gb, gbRef, 1e-4, 'dL/db');
    const loss = f(wt, bt);
    await expectClose(loss, [ref64eval.linearSoftmaxLoss(x.data, N, D, w.data, b.data, C, labels, wd)], 1e-6, 'loss');
    tf.dispose([xt, wt, bt, yt, gw, gb, loss]);
  });

  it('separates Gaussian clusters of latents [N, 2, 2, 2] (flattened) with 100% held-out accuracy', async () => {
    const C = 3;
    const make = (n: number, seed: number) => {
      const noise = ref64.randomNd([n, 8], seed, 0.5).data;
      const labels = Array.from({ length: n }, (_, i) => i % C);
      const data = Float32Array.from(noise, (v, i) => v + (Math.floor(i / 8) % C === (i % 8) % C ? 3 : 0)); // class k lifts dims k, k+3, k+6
      return { x: tf.tensor4d(data, [n, 2, 2, 2]), labels };
    };
    const train = make(150, 11);
    const test = make(60, 12);
    const before = tf.memory().numTensors;
    const losses: number[] = [];
    const probe = await LinearProbe.train(train.x, train.labels, { classes: C, epochs: 30, batchSize: 32, learningRate: 0.05, seed: 1, onEpoch: (e) => losses.push(e.loss) });
    expect(losses[losses.length - 1]).toBeLessThan(losses[0]);
    expect(await probe.accuracy(test.x, test.labels)).toBe(1);
    expect(await probe.accuracy(test.x, test.labels, { topk: 2 })).toBe(1);
    expect(() => probe.logits(tf.zeros([2, 5]))).toThrow(/8 values per row/);
    probe.dispose();
    expect(tf.memory().numTensors).toBe(before + 1); // the zeros tensor of the failed call
    tf.dispose([train.x, test.x]);
    await expect(LinearProbe.train(tf.zeros([2, 3]), [0, 5], { classes: 2 })).rejects.toThrow(/not in 0\.\.1/);
  });
});

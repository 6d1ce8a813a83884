import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeBackends, expectClose, expectNoLeaks, ref64, ref64kernels } from '@fae/testing';
import { linearActivation, linearActivationSupported, registerFaeWebGPUKernels, unregisterFaeWebGPUKernels } from '@fae/core';

// act(x W + b) in one tiled-matmul dispatch with the bias/activation epilogue, against float64:
// forward, and gradients (custom: recomputed pre-activation) against central finite differences.
// Shapes do not divide the 128 x 128 x 16 tiles. Shader variants: gelu+bias, linear+bias (the
// backward's recompute), silu without bias.
const ref = (x: ref64.Nd, w: ref64.Nd, b: ref64.Nd | null, f: (v: number) => number) => {
  const k = w.shape[0];
  const y = ref64.matmul(ref64.reshape(x, [x.data.length / k, k]), w);
  return ref64.map(b ? ref64.addSuffix(y, b) : y, f);
};

describeBackends('FAE WebGPU kernels: fused linear + activation', () => {
  beforeAll(() => {
    expect(registerFaeWebGPUKernels()).toBe(true);
  });
  afterAll(() => unregisterFaeWebGPUKernels());

  it('gelu(x W + b): forward and gradients match float64 (x [2, 9, 37], W [37, 130])', async () => {
    const x = ref64.randomNd([2, 9, 37], 1, 2);
    const w = ref64.randomNd([37, 130], 2, 0.3);
    const b = ref64.randomNd([130], 3);
    const g = ref64.randomNd([2, 9, 130], 4);
    const [xt, wt, bt, gt] = [x, w, b, g].map(ref64.toTensor);
    expect(linearActivationSupported(xt, wt, bt, 'gelu')).toBe(true);
    const y = await expectNoLeaks(() => linearActivation(xt, wt, bt, 'gelu'), 'linearActivation');
    expect(y.shape).toEqual([2, 9, 130]);
    await expectClose(y, ref(x, w, b, ref64.gelu).data, 1e-5, 'y');
    const grads = await expectNoLeaks(() => tf.grads((a: tf.Tensor, c: tf.Tensor, e: tf.Tensor) => tf.sum(tf.mul(linearActivation(a, c, e, 'gelu'), gt)))([xt, wt, bt]), 'grads');
    const loss = (xx: ref64.Nd, ww: ref64.Nd, bb: ref64.Nd) => ref64kernels.dotAll(ref(xx, ww, bb, ref64.gelu), g);
    await expectClose(grads[0], ref64kernels.finiteDifferenceGrad((v) => loss(v, w, b), x).data, 1e-5, 'dx');
    await expectClose(grads[1], ref64kernels.finiteDifferenceGrad((v) => loss(x, v, b), w).data, 1e-5, 'dw');
    await expectClose(grads[2], ref64kernels.finiteDifferenceGrad((v) => loss(x, w, v), b).data, 1e-5, 'db');
    tf.dispose([xt, wt, bt, gt, y, ...grads]);
  });

  it('silu(x W) without bias: forward and gradients match float64', async () => {
    const x = ref64.randomNd([17, 20], 5, 2);
    const w = ref64.randomNd([20, 9], 6);
    const g = ref64.randomNd([17, 9], 7);
    const [xt, wt, gt] = [x, w, g].map(ref64.toTensor);
    await expectClose(linearActivation(xt, wt, null, 'silu'), ref(x, w, null, ref64.silu).data, 1e-5, 'y');
    const grads = tf.grads((a: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(linearActivation(a, c, null, 'silu'), gt)))([xt, wt]);
    const loss = (xx: ref64.Nd, ww: ref64.Nd) => ref64kernels.dotAll(ref(xx, ww, null, ref64.silu), g);
    await expectClose(grads[0], ref64kernels.finiteDifferenceGrad((v) => loss(v, w), x).data, 1e-5, 'dx');
    await expectClose(grads[1], ref64kernels.finiteDifferenceGrad((v) => loss(x, v), w).data, 1e-5, 'dw');
    tf.dispose([xt, wt, gt, ...grads]);
  });

  it('refuses what it cannot run', () => {
    const x = tf.zeros([3, 4]);
    const w = tf.zeros([5, 6]);
    expect(linearActivationSupported(x, w, null, 'gelu')).toBe(false);
    expect(() => linearActivation(x, w, null, 'gelu')).toThrow(/must be \[\.\.\., K\] and \[K, M\]/);
    expect(linearActivationSupported(x, tf.zeros([4, 6]), null, 'elu')).toBe(false);
    tf.dispose([x, w]);
  });
}, { backends: ['webgpu'] });

import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeBackends, expectClose, expectNoLeaks, ref64, ref64kernels } from '@fae/testing';
import {
  fusedAttention, fusedAttentionSupported, registerFaeWebGPUKernels, scaledDotProductAttention, unregisterFaeWebGPUKernels,
} from '@fae/core';

// The fused attention kernels (forward with online softmax, dQ and dK/dV backward) against float64
// references, at lengths that do and do not divide the 64-row workgroups and 8/16-row tiles, causal
// and not, head dims 32, 64 and 72 (+ 20 and 40: zero-padded loads), on software Vulkan. Head dims
// 20/32/40/64 run the DMAX 64 pipelines and 72 the DMAX 80 ones: 6 attention shaders (+ the tiny Delta).
interface Case { b: number; h: number; tq: number; tk: number; d: number; causal?: boolean; scale?: number }
const CASES: Case[] = [
  { b: 1, h: 2, tq: 70, tk: 70, d: 32 },
  { b: 2, h: 1, tq: 37, tk: 37, d: 64, causal: true },
  { b: 1, h: 1, tq: 5, tk: 77, d: 32, causal: true, scale: 0.3 }, // KV-cache shape: causal offset
  { b: 1, h: 1, tq: 65, tk: 33, d: 40 },
  { b: 1, h: 3, tq: 9, tk: 12, d: 20, scale: 0.7 },
  { b: 1, h: 2, tq: 40, tk: 45, d: 72, causal: true }, // LightningDiT-XL's head: DMAX 80, 5 slices, 32 rows
];

function inputs(c: Case, seed: number) {
  const q = ref64.randomNd([c.b, c.h, c.tq, c.d], seed, 2);
  const k = ref64.randomNd([c.b, c.h, c.tk, c.d], seed + 1, 2);
  const v = ref64.randomNd([c.b, c.h, c.tk, c.d], seed + 2);
  const g = ref64.randomNd([c.b, c.h, c.tq, c.d], seed + 3);
  return { q, k, v, g };
}

describeBackends('FAE WebGPU kernels: fused attention', () => {
  beforeAll(() => {
    expect(registerFaeWebGPUKernels()).toBe(true);
  });
  afterAll(() => unregisterFaeWebGPUKernels());

  for (const [i, c] of CASES.entries()) {
    const name = `[${c.b},${c.h},${c.tq}|${c.tk},${c.d}]${c.causal ? ' causal' : ''}${c.scale ? ` scale ${c.scale}` : ''}`;
    it(`forward and gradients match float64 at ${name}`, async () => {
      const { q, k, v, g } = inputs(c, 100 + 10 * i);
      const opts = { causal: c.causal, scale: c.scale };
      const [qt, kt, vt, gt] = [q, k, v, g].map(ref64.toTensor);
      expect(fusedAttentionSupported(qt, kt, vt, opts)).toBe(true);
      // inference path: one dispatch, no log-sum-exp
      const o = await expectNoLeaks(() => fusedAttention(qt, kt, vt, opts), 'fusedAttention');
      await expectClose(o, ref64kernels.attention(q, k, v, opts).data, 1e-5, 'o');
      // training path: forward keeps the log-sum-exp, backward runs Delta, dQ, dV, dK
      const ref = ref64kernels.attentionGrads(q, k, v, g, opts);
      const grads = await expectNoLeaks(() =>
        tf.grads((a: tf.Tensor, b: tf.Tensor, e: tf.Tensor) => tf.sum(tf.mul(fusedAttention(a, b, e, opts), gt)))([qt, kt, vt]), 'grads');
      await expectClose(grads[0], ref.dq.data, 1e-5, 'dq');
      await expectClose(grads[1], ref.dk.data, 1e-5, 'dk');
      await expectClose(grads[2], ref.dv.data, 1e-5, 'dv');
      tf.dispose([qt, kt, vt, gt, o, ...grads]);
    });
  }

  it('gradients match central finite differences of the float64 forward', async () => {
    const c: Case = { b: 1, h: 2, tq: 9, tk: 9, d: 32, causal: true };
    const { q, k, v, g } = inputs(c, 7);
    const opts = { causal: true };
    const loss = (qq: ref64.Nd, kk: ref64.Nd, vv: ref64.Nd) => ref64kernels.dotAll(ref64kernels.attention(qq, kk, vv, opts), g);
    const fd = [
      ref64kernels.finiteDifferenceGrad((x) => loss(x, k, v), q),
      ref64kernels.finiteDifferenceGrad((x) => loss(q, x, v), k),
      ref64kernels.finiteDifferenceGrad((x) => loss(q, k, x), v),
    ];
    const [qt, kt, vt, gt] = [q, k, v, g].map(ref64.toTensor);
    const grads = tf.grads((a: tf.Tensor, b: tf.Tensor, e: tf.Tensor) => tf.sum(tf.mul(fusedAttention(a, b, e, opts), gt)))([qt, kt, vt]);
    for (const [j, label] of ['dq', 'dk', 'dv'].entries()) await expectClose(grads[j], fd[j].data, 1e-5, label);
    tf.dispose([qt, kt, vt, gt, ...grads]);
  });

  it('scaledDotProductAttention runs the fused kernel (and the composite for an additive mask)', async () => {
    const c: Case = { b: 1, h: 2, tq: 33, tk: 33, d: 64, causal: true };
    const { q, k, v } = inputs(c, 55);
    const [qt, kt, vt] = [q, k, v].map(ref64.toTensor);
    const prof = await tf.profile(() => scaledDotProductAttention(qt, kt, vt, { causal: true }));
    expect(prof.kernelNames).toContain('FaeFusedAttention');
    expect(prof.kernelNames).not.toContain('Softmax');
    const o = scaledDotProductAttention(qt, kt, vt, { causal: true });
    await expectClose(o, ref64kernels.attention(q, k, v, { causal: true }).data, 1e-5, 'routed');
    // an arbitrary additive mask is not fused: same answer through the composite
    const mask = tf.zeros([33, 33]);
    const prof2 = await tf.profile(() => scaledDotProductAttention(qt, kt, vt, { causal: true, mask }));
    expect(prof2.kernelNames).not.toContain('FaeFusedAttention');
    const om = scaledDotProductAttention(qt, kt, vt, { causal: true, mask });
    await expectClose(om, ref64kernels.attention(q, k, v, { causal: true }).data, 1e-5, 'masked');
    tf.dispose([qt, kt, vt, o, mask, om, prof.result as tf.Tensor, prof2.result as tf.Tensor]);
  });

  it('refuses what it cannot run, with the reason', () => {
    const q = tf.zeros([1, 1, 4, 8]);
    const k = tf.zeros([1, 1, 3, 8]);
    expect(fusedAttentionSupported(q, k, k, { causal: true })).toBe(false); // causal with Tk < Tq
    expect(() => fusedAttention(q, k, k, { causal: true })).toThrow(/Tk 3 < Tq 4/);
    const wide = tf.zeros([1, 1, 4, 160]);
    expect(fusedAttentionSupported(wide, wide, wide)).toBe(false); // head dim > 128
    const odd = tf.zeros([1, 1, 4, 30]);
    expect(fusedAttentionSupported(odd, odd, odd)).toBe(false); // head dim not a multiple of 4
    expect(() => fusedAttention(odd, odd, odd)).toThrow(/multiple of 4/);
    tf.dispose([q, k, wide, odd]);
  });
}, { backends: ['webgpu'] });

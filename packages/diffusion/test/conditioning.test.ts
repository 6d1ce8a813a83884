// DiT conditioning pieces (moved from @fae/core): timestep features and TimestepEmbedder, adaLN
// modulate with its gradients, LabelEmbedder's null class and dropout; LightningDiT's SwiGLU width rule.
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { describeBackends, expectClose, expectNoLeaks, relError, ref64, ref64transformer as rt } from '@fae/testing';
import { LabelEmbedder, TimestepEmbedder, lightningDiTSwiGLUHidden, modulate, timestepEmbedding } from '@fae/diffusion';

describeBackends('DiT conditioning', () => {
  it('LightningDiT SwiGLU hidden width: int(2/3 * int(dim * ratio))', () => {
    expect(lightningDiTSwiGLUHidden(1152)).toBe(3072); // LightningDiT-XL: w12 1152 -> 6144
    expect(lightningDiTSwiGLUHidden(64)).toBe(170); // the lightningdit_0 fixture
  });

  it('timestep features: [cos | sin], DiT frequencies, odd widths padded', async () => {
    const tv = [0, 0.25, 0.9, 500];
    const t = tf.tensor1d(tv);
    for (const dim of [8, 7, 256]) {
      const e = await expectNoLeaks(() => timestepEmbedding(t, dim));
      expect(e.shape).toEqual([4, dim]);
      await expectClose(e, rt.timestepEmbedding(tv, dim).data, 2e-5, `dim ${dim}`);
      e.dispose();
    }
    const e = timestepEmbedding(t, 6, 100);
    await expectClose(e, rt.timestepEmbedding(tv, 6, 100).data, 2e-5);
    tf.dispose([t, e]);
  });

  it('TimestepEmbedder keys and forward (mlp.0 -> SiLU -> mlp.2)', async () => {
    const m = new TimestepEmbedder(6, 8);
    expect(m.namedParameters().map(([k, p]) => `${k}:${p.torchShape}`)).toEqual(['mlp.0.weight:6,8', 'mlp.0.bias:6', 'mlp.2.weight:6,6', 'mlp.2.bias:6']);
    const w = { w0: ref64.randomNd([6, 8], 1), b0: ref64.randomNd([6], 2), w2: ref64.randomNd([6, 6], 3), b2: ref64.randomNd([6], 4) };
    await m.loadStateDict({ 'mlp.0.weight': ref64.toTensor(w.w0), 'mlp.0.bias': ref64.toTensor(w.b0), 'mlp.2.weight': ref64.toTensor(w.w2), 'mlp.2.bias': ref64.toTensor(w.b2) });
    const tv = [0.1, 0.7];
    const t = tf.tensor1d(tv);
    const y = await expectNoLeaks(() => m.forward(t));
    const ref = ref64.linearTorch(ref64.map(ref64.linearTorch(rt.timestepEmbedding(tv, 8), w.w0, w.b0), ref64.silu), w.w2, w.b2);
    await expectClose(y, ref.data, 1e-5);
    tf.dispose([t, y]);
    m.dispose();
  });

  it('modulate(x, shift, scale) = x (1 + scale) + shift, also without shift; gradients match finite differences', async () => {
    const x = ref64.randomNd([2, 3, 4], 13);
    const sh = ref64.randomNd([2, 4], 14);
    const sc = ref64.randomNd([2, 4], 15);
    const g = ref64.randomNd([2, 3, 4], 16);
    const [xt, sht, sct, gt] = [x, sh, sc, g].map(ref64.toTensor);
    await expectClose(await expectNoLeaks(() => modulate(xt, sht, sct)), rt.modulate(x, sh, sc).data, 1e-6);
    await expectClose(modulate(xt, null, sct), rt.modulate(x, null, sc).data, 1e-6);
    const grads = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(modulate(a, b, c), gt)))([xt, sht, sct]);
    const f = (xd: Float64Array, shd: Float64Array, scd: Float64Array) => rt.weightedSum(rt.modulate(ref64.nd(x.shape, xd), ref64.nd(sh.shape, shd), ref64.nd(sc.shape, scd)), g);
    const fdX = rt.centralDifferences((d) => f(d, sh.data, sc.data), Float64Array.from(x.data), rt.sampleIndices(24, 24));
    const fdSh = rt.centralDifferences((d) => f(x.data, d, sc.data), Float64Array.from(sh.data), rt.sampleIndices(8, 8));
    const fdSc = rt.centralDifferences((d) => f(x.data, sh.data, d), Float64Array.from(sc.data), rt.sampleIndices(8, 8));
    expect(relError(await grads[0].data(), fdX).rel).toBeLessThan(1e-4);
    expect(relError(await grads[1].data(), fdSh).rel).toBeLessThan(1e-4);
    expect(relError(await grads[2].data(), fdSc).rel).toBeLessThan(1e-4);
    tf.dispose([xt, sht, sct, gt, ...grads]);
  });

  it('LabelEmbedder: null-class row, forced drops, seeded training dropout, none in eval', async () => {
    const m = new LabelEmbedder(4, 3, 0.5);
    expect(m.namedParameters().map(([k, e]) => `${k}:${e.torchShape}`)).toEqual(['embedding_table.weight:5,3']);
    expect(new LabelEmbedder(4, 3, 0).embeddingTable.numEmbeddings).toBe(4);
    const table = ref64.randomNd([5, 3], 17);
    await m.loadStateDict({ 'embedding_table.weight': ref64.toTensor(table) });
    const labels = [0, 3, 2, 4];
    const y = tf.tensor1d(labels, 'int32');
    await expectClose(await expectNoLeaks(() => m.forward(y)), rt.labelEmbed(labels, table, 4).data, 0);
    const drop = tf.tensor1d([1, 0, 1, 0], 'int32');
    await expectClose(m.forward(y, { forceDrop: drop }), rt.labelEmbed(labels, table, 4, [1, 0, 1, 0]).data, 0);
    // Training mode: about half the labels of a long batch go to the null class; reproducible by seed.
    const many = tf.zeros([400], 'int32');
    const a = await m.forward(many, { train: true, seed: 3 }).data();
    const b = await m.forward(many, { train: true, seed: 3 }).data();
    expect(Array.from(a)).toEqual(Array.from(b));
    let dropped = 0;
    for (let i = 0; i < 400; i++) if (a[i * 3] === Math.fround(table.data[4 * 3])) dropped++;
    expect(dropped).toBeGreaterThan(150);
    expect(dropped).toBeLessThan(250);
    m.train();
    const c = await m.forward(many, { seed: 4 }).data(); // module in training mode drops too
    m.eval();
    const d = await m.forward(many, { seed: 4 }).data();
    expect(Array.from(c)).not.toEqual(Array.from(d));
    expect(d[0]).toBe(Math.fround(table.data[0]));
    tf.dispose([y, drop, many]);
    m.dispose();
  });
});

import * as tf from '@tensorflow/tfjs-core';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { describeBackends, describeFixture, expectClose, expectNoLeaks, relError, ref64, ref64transformer as rt } from '@fae/testing';
import {
  sincosPosEmbed2d, timestepEmbedding, TimestepEmbedder, PatchEmbed, patchify, unpatchify, modulate, LabelEmbedder,
  parseSafetensors, ShapeError,
} from '@fae/core';

describeBackends('embeddings', () => {
  it('2-D sin-cos table matches the float64 definition (column index on the first half)', async () => {
    await expectClose(sincosPosEmbed2d(16, 4), rt.sincos2d(16, 4, 4).data, 1e-6);
    await expectClose(sincosPosEmbed2d(8, [2, 3]), rt.sincos2d(8, 2, 3).data, 1e-6);
    const t = sincosPosEmbed2d(8, 2, { extraTokens: 1 });
    expect(Array.from(t.slice(0, 8))).toEqual(new Array(8).fill(0));
    // token 1 = (row 0, col 1): first quarter is sin(col * omega) != 0; third quarter sin(row * omega) = 0.
    expect(t[8 + 8]).toBeCloseTo(Math.sin(1), 6);
    expect(t[8 + 8 + 4]).toBe(0);
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

  it('PatchEmbed = strided conv with timm keys proj.weight [D, C, p, p]', async () => {
    const [C, D, p] = [3, 5, 2];
    const m = new PatchEmbed(C, D, p);
    expect(m.namedParameters().map(([k, e]) => `${k}:${e.torchShape}`)).toEqual(['proj.weight:5,3,2,2', 'proj.bias:5']);
    const w = ref64.randomNd([D, C, p, p], 7);
    const b = ref64.randomNd([D], 8);
    await m.loadStateDict({ 'proj.weight': ref64.toTensor(w), 'proj.bias': ref64.toTensor(b) });
    const x = ref64.randomNd([2, 4, 6, C], 9);
    const xt = ref64.toTensor(x);
    const y = await expectNoLeaks(() => m.forward(xt));
    expect(y.shape).toEqual([2, 6, D]);
    await expectClose(y, rt.patchEmbed(x, w, b, p).data, 1e-5);
    const bad = tf.zeros([1, 3, 4, C]);
    expect(() => m.forward(bad)).toThrow(ShapeError);
    tf.dispose([xt, y, bad]);
    m.dispose();
  });

  it('unpatchify matches DiT (NCHW einsum) in NHWC and inverts patchify', async () => {
    const [p, c] = [2, 3];
    const x = ref64.randomNd([2, 9, p * p * c], 11);
    const xt = ref64.toTensor(x);
    const img = await expectNoLeaks(() => unpatchify(xt, p, c));
    expect(img.shape).toEqual([2, 6, 6, c]);
    await expectClose(img, rt.unpatchify(x, p, c).data, 0);
    const back = patchify(img, p);
    await expectClose(back, x.data, 0);
    const rect = unpatchify(tf.zeros([1, 6, p * p * c]), p, c, [2, 3]);
    expect(rect.shape).toEqual([1, 4, 6, c]);
    const bad = tf.zeros([1, 8, p * p * c]);
    expect(() => unpatchify(bad, p, c)).toThrow(ShapeError);
    tf.dispose([xt, img, back, rect, bad]);
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

describeBackends('embedding lookup gradient', () => {
  it('d/dtable of sum(w * table[ids]) matches float64 central differences (repeated ids accumulate)', async () => {
    const m = new LabelEmbedder(3, 4, 0.1); // 4 rows with the null class
    const table = ref64.randomNd([4, 4], 41);
    await m.loadStateDict({ 'embedding_table.weight': ref64.toTensor(table) });
    const labels = [2, 0, 2, 3, 2];
    const g = ref64.randomNd([5, 4], 42);
    const [yt, gt] = [tf.tensor1d(labels, 'int32'), ref64.toTensor(g)];
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(m.forward(yt), gt)) as tf.Scalar, [m.embeddingTable.weight]);
    const fd = rt.centralDifferences((d) => rt.weightedSum(rt.labelEmbed(labels, ref64.nd([4, 4], d), 3), g), Float64Array.from(table.data), rt.sampleIndices(16, 16));
    expect(relError(await grads[m.embeddingTable.weight.name].data(), fd).rel).toBeLessThan(1e-5);
    tf.dispose([yt, gt, value, ...Object.values(grads)]);
    m.dispose();
  });
});

describeFixture('sin-cos table vs upstream', ['generators', 'lightningdit_1'], (dir) => {
  describeBackends('lightningdit_1 pos_embed', () => {
    it('our table equals the checkpoint pos_embed (48 channels, 4x4 grid)', async () => {
      const store = parseSafetensors(readFileSync(join(dir, 'model.safetensors')), 'lightningdit_1/model.safetensors');
      const pe = (await store.read('pos_embed')) as Float32Array;
      expect(relError(sincosPosEmbed2d(48, 4), pe).rel).toBeLessThan(1e-6);
    });
  }, { backends: ['cpu'] });
});

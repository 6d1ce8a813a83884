import * as tf from '@tensorflow/tfjs-core';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { describeBackends, describeFixture, expectClose, expectNoLeaks, relError, ref64, ref64transformer as rt } from '@fae/testing';
import {
  sincosPosEmbed2d, Embedding, PatchEmbed, patchify, unpatchify, parseSafetensors, ShapeError,
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
});

describeBackends('embedding lookup gradient', () => {
  it('d/dtable of sum(w * table[ids]) matches float64 central differences (repeated ids accumulate)', async () => {
    const m = new Embedding(4, 4);
    const table = ref64.randomNd([4, 4], 41);
    await m.loadStateDict({ weight: ref64.toTensor(table) });
    const labels = [2, 0, 2, 3, 2];
    const g = ref64.randomNd([5, 4], 42);
    const [yt, gt] = [tf.tensor1d(labels, 'int32'), ref64.toTensor(g)];
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(m.forward(yt), gt)) as tf.Scalar, [m.weight]);
    const fd = rt.centralDifferences((d) => rt.weightedSum(rt.labelEmbed(labels, ref64.nd([4, 4], d), 3), g), Float64Array.from(table.data), rt.sampleIndices(16, 16));
    expect(relError(await grads[m.weight.name].data(), fd).rel).toBeLessThan(1e-5);
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

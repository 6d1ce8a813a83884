import * as tf from '@tensorflow/tfjs-core';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { describeBackends, describeFixture, expectClose, expectNoLeaks, relError, ref64, ref64transformer as rt } from '@fae/testing';
import { VisionRotaryEmbeddingFast, AxialRoPE2D, visionRotaryTables, applyRotary, parseSafetensors, ShapeError } from '@fae/core';

describeBackends('VisionRotaryEmbeddingFast (EVA / LightningDiT)', () => {
  it('tables match the float64 definition, also when ft != pt', async () => {
    for (const [dim, pt, ft] of [[8, 4, 4], [4, 3, 5], [6, 4, 2]]) {
      const r = new VisionRotaryEmbeddingFast(dim, pt, { ftSeqLen: ft });
      const ref = rt.evaRopeTables(dim, pt, ft);
      expect(r.freqsCos.shape).toEqual(ref.cos.shape);
      await expectClose(r.freqsCos, ref.cos.data, 1e-6, `cos ${dim}/${pt}/${ft}`);
      await expectClose(r.freqsSin, ref.sin.data, 1e-6, `sin ${dim}/${pt}/${ft}`);
      r.dispose();
    }
  });

  it('buffers are persistent state-dict entries freqs_cos / freqs_sin', async () => {
    const r = new VisionRotaryEmbeddingFast(4, 2);
    const sd = await r.stateDict();
    expect([...sd.keys()]).toEqual(['freqs_cos', 'freqs_sin']);
    expect(sd.get('freqs_cos')!.shape).toEqual([4, 8]);
    expect(r.parameterCount()).toBe(0);
    r.dispose();
  });

  it('forward = x cos + rotate_half(x) sin with interleaved pairs', async () => {
    const r = new VisionRotaryEmbeddingFast(4, 3); // head dim 8, 9 tokens
    const ref = rt.evaRopeTables(4, 3);
    const x = ref64.randomNd([2, 3, 9, 8], 3, 2);
    const xt = ref64.toTensor(x);
    const y = await expectNoLeaks(() => r.forward(xt));
    await expectClose(y, rt.applyRotary(x, ref.cos, ref.sin, 'interleaved').data, 1e-5);
    const bad = tf.zeros([1, 1, 8, 8]);
    expect(() => r.forward(bad)).toThrow(ShapeError);
    tf.dispose([xt, y, bad]);
    r.dispose();
  });

  it('gradient matches float64 central differences', async () => {
    const r = new VisionRotaryEmbeddingFast(4, 2); // head dim 8, 4 tokens
    const ref = rt.evaRopeTables(4, 2);
    const x = ref64.randomNd([1, 2, 4, 8], 5);
    const g = ref64.randomNd([1, 2, 4, 8], 6);
    const [xt, gt] = [x, g].map(ref64.toTensor);
    const dx = tf.grad((xi: tf.Tensor) => tf.sum(tf.mul(r.forward(xi), gt)))(xt);
    const idx = rt.sampleIndices(x.data.length, 16);
    const fd = rt.centralDifferences((xd) => rt.weightedSum(rt.applyRotary(ref64.nd(x.shape, xd), ref.cos, ref.sin), g), Float64Array.from(x.data), idx);
    const dv = await dx.data();
    expect(relError(idx.map((i) => dv[i]), fd).rel).toBeLessThan(1e-3);
    tf.dispose([xt, gt, dx]);
    r.dispose();
  });
});

describeFixture('VisionRotaryEmbeddingFast vs upstream buffers', ['generators', 'lightningdit_0'], (dir) => {
  describeBackends('lightningdit_0 feat_rope', () => {
    it('our table equals the checkpoint buffers (head dim 16, 8x8 grid)', async () => {
      const store = parseSafetensors(readFileSync(join(dir, 'model.safetensors')), 'lightningdit_0/model.safetensors');
      const r = new VisionRotaryEmbeddingFast(8, 8);
      const cos = await store.read('feat_rope.freqs_cos');
      const sin = await store.read('feat_rope.freqs_sin');
      await expectClose(r.freqsCos, cos as Float32Array, 1e-6, 'freqs_cos');
      await expectClose(r.freqsSin, sin as Float32Array, 1e-6, 'freqs_sin');
      r.dispose();
    });
  }, { backends: ['cpu'] });
});

describeBackends('AxialRoPE2D', () => {
  for (const pairing of ['interleaved', 'half'] as const) {
    it(`${pairing} pairing matches the float64 reference, rows on the first half of channels`, async () => {
      const [gh, gw, dh] = [3, 4, 8];
      const r = new AxialRoPE2D(dh, gh, gw, { pairing });
      const ref = rt.axialRopeTables(dh, gh, gw, pairing);
      const x = ref64.randomNd([2, 2, gh * gw, dh], 11);
      const xt = ref64.toTensor(x);
      const y = await expectNoLeaks(() => r.forward(xt));
      await expectClose(y, rt.applyRotary(x, ref.cos, ref.sin, pairing, 2).data, 1e-5);
      // Token (row 0, col 2): the row half is unrotated (angle 0), the column half is rotated.
      const yv = await y.data();
      const tok = 2 * dh;
      for (let c = 0; c < dh / 2; c++) expect(yv[tok + c]).toBeCloseTo(x.data[tok + c], 5);
      expect(Math.abs(yv[tok + dh / 2] - x.data[tok + dh / 2])).toBeGreaterThan(1e-3);
      tf.dispose([xt, y]);
      r.dispose();
    });
  }

  it('q.k after rotation depends only on the 2-D offset between tokens', async () => {
    const [gh, gw, dh] = [4, 4, 8];
    const r = new AxialRoPE2D(dh, gh, gw);
    // The same q at every token and the same k at every token.
    const q = ref64.randomNd([dh], 21);
    const k = ref64.randomNd([dh], 22);
    const qt = tf.tile(tf.reshape(ref64.toTensor(q), [1, 1, 1, dh]), [1, 1, gh * gw, 1]);
    const kt = tf.tile(tf.reshape(ref64.toTensor(k), [1, 1, 1, dh]), [1, 1, gh * gw, 1]);
    const s = tf.matMul(r.forward(qt), r.forward(kt), false, true); // [1, 1, T, T]
    const sv = await s.data();
    const T = gh * gw;
    const score = (a: [number, number], b: [number, number]) => sv[(a[0] * gw + a[1]) * T + b[0] * gw + b[1]];
    expect(score([0, 0], [1, 2])).toBeCloseTo(score([2, 1], [3, 3]), 4);
    expect(score([1, 0], [0, 3])).toBeCloseTo(score([3, 0], [2, 3]), 4);
    expect(Math.abs(score([0, 0], [1, 2]) - score([0, 0], [2, 1]))).toBeGreaterThan(1e-3); // rows and columns differ
    tf.dispose([qt, kt, s]);
    r.dispose();
  });

  it('gradient matches float64 central differences (half pairing)', async () => {
    const r = new AxialRoPE2D(8, 2, 3, { pairing: 'half' });
    const ref = rt.axialRopeTables(8, 2, 3, 'half');
    const x = ref64.randomNd([1, 2, 6, 8], 25);
    const g = ref64.randomNd([1, 2, 6, 8], 26);
    const [xt, gt] = [x, g].map(ref64.toTensor);
    const dx = tf.grad((xi: tf.Tensor) => tf.sum(tf.mul(r.forward(xi), gt)))(xt);
    const idx = rt.sampleIndices(x.data.length, 16);
    const fd = rt.centralDifferences((xd) => rt.weightedSum(rt.applyRotary(ref64.nd(x.shape, xd), ref.cos, ref.sin, 'half', 2), g), Float64Array.from(x.data), idx);
    const dv = await dx.data();
    expect(relError(idx.map((i) => dv[i]), fd).rel).toBeLessThan(1e-3);
    tf.dispose([xt, gt, dx]);
    r.dispose();
  });

  it('applyRotary checks the table size; visionRotaryTables reports its width', () => {
    const t = visionRotaryTables(4, 2);
    expect([t.tokens, t.width]).toEqual([4, 8]);
    const x = tf.zeros([1, 1, 4, 6]);
    const c = tf.zeros([4, 8]);
    expect(() => applyRotary(x, c, c)).toThrow(ShapeError);
    tf.dispose([x, c]);
  });
});

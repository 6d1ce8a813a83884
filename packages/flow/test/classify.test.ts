// classifyByLikelihood: every column of nll [B, K] is the class-conditional NLL of the float64
// reference, the prediction is its argmin, 10 classes (the count where tf.stack broke on webgpu), no leaks.
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { describeBackends, expectNoLeaks, ref64flow } from '@fae/testing';
import { ConfigError } from '@fae/core';
import { TarFlow, classifyByLikelihood } from '@fae/flow';
import { SMALL, randomFlow, randomInput, refConfig } from './helpers.js';

describeBackends('classifyByLikelihood', () => {
  it('nll [B, 10] equals the float64 per-class NLL column by column; predicted = its argmin; no leaks', async () => {
    const K = 10;
    // A large class embedding so the classes differ clearly in likelihood.
    const model = await randomFlow({ ...SMALL, numClasses: K }, 90, { randomVar: true, scale: 0.6 });
    const sd = await ref64flow.stateDict64(model);
    const { nd, t } = randomInput(model, 4, 91);
    const { predicted, nll } = await expectNoLeaks(() => classifyByLikelihood(model, t));
    expect(nll.shape).toEqual([4, K]);
    expect(predicted.dtype).toBe('int32');
    const got = await nll.data();
    const tokens = ref64flow.patchify(nd, 2);
    const ref: number[][] = [];
    for (let c = 0; c < K; c++) ref.push(Array.from(ref64flow.tarflowNll(sd, tokens, [c, c, c, c], refConfig(model))));
    const scale = Math.max(...ref.flat().map(Math.abs));
    for (let b = 0; b < 4; b++) for (let c = 0; c < K; c++) {
      expect(Math.abs(got[b * K + c] - ref[c][b]) / scale, `sample ${b} class ${c}`).toBeLessThan(1e-5);
    }
    const argmin = [0, 1, 2, 3].map((b) => ref.map((col) => col[b]).reduce((best, v, c, row) => (v < row[best] ? c : best), 0));
    expect(Array.from(await predicted.data())).toEqual(argmin);
    // The classes must actually differ (else the argmin test would be vacuous).
    for (let b = 0; b < 4; b++) {
      const row = ref.map((col) => col[b]).sort((p, q) => p - q);
      expect(row[1] - row[0], `margin of sample ${b}`).toBeGreaterThan(1e-3 * scale);
    }
    expect(new Set(argmin).size).toBeGreaterThan(1);
    tf.dispose([t, predicted, nll]);
    model.dispose();
  });

  it('refuses an unconditional flow', () => {
    const model = new TarFlow({ ...SMALL, numClasses: 0 });
    const x = tf.zeros([1, 4, 4, 2]);
    expect(() => classifyByLikelihood(model, x)).toThrow(ConfigError);
    x.dispose();
    model.dispose();
  });
});

import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { describeBackends, expectClose, expectNoLeaks, ref64, ref64flow } from '@fae/testing';
import { Rng, ShapeError } from '@fae/core';
import { nllGradient, sample, selfDenoise, type FlowProgress } from '@fae/flow';
import { SMALL, randomFlow, randomInput, refConfig } from './helpers.js';

describeBackends('score-based denoising', () => {
  it('grad_x NLL (autodiff through the flow) matches float64 central differences of the reference NLL', async () => {
    const model = await randomFlow(SMALL, 90, { randomVar: true });
    const sd = await ref64flow.stateDict64(model);
    const labels = [1, -1];
    const { nd, t } = randomInput(model, 2, 91);
    const grad = await expectNoLeaks(() => nllGradient(model, t, labels));
    expect(grad.shape).toEqual(t.shape);
    const g = await grad.data();
    // d/dx_i sum_b NLL_b(x), on a subset of coordinates (NHWC order), h = 1e-5 in float64.
    const total = (v: Float64Array) => ref64flow.tarflowNll(sd, ref64flow.patchify(ref64.nd(nd.shape, v), 2), labels, refConfig(model)).reduce((a, b) => a + b, 0);
    const idx = [0, 3, 7, 12, 20, 31, 33, 40, 51, 63];
    const fd = idx.map((i) => {
      const p = Float64Array.from(nd.data);
      const m = Float64Array.from(nd.data);
      p[i] += 1e-5;
      m[i] -= 1e-5;
      return (total(p) - total(m)) / 2e-5;
    });
    await expectClose(idx.map((i) => g[i]), fd, 1e-3, 'grad NLL');
    const den = await expectNoLeaks(() => selfDenoise(model, t, labels, { noiseStd: 0.3, lrScale: 0.5 }));
    const x = await t.data();
    await expectClose(den, Array.from(x, (v, i) => v - 0.5 * 0.09 * g[i]), 1e-6, 'x - lr sigma^2 grad');
    tf.dispose([t, grad, den]);
    model.dispose();
  });
});

describeBackends('sample()', () => {
  it('draws seeded noise with core Rng, inverts the flow and reports progress per token', async () => {
    const model = await randomFlow(SMALL, 100);
    const events: FlowProgress[] = [];
    const labels = [0, 2, -1];
    const before = tf.memory().numTensors;
    const x = await sample({ model, labels, guidance: 0.5, seed: 7, steps: 250, onProgress: (e) => { events.push(e); } });
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(x.shape).toEqual([3, 4, 4, 2]);
    // 3 blocks x (T - 1) = 9 token steps, deepest (last) block first.
    expect(events.length).toBe(9);
    expect(events.map((e) => e.block)).toEqual([2, 2, 2, 1, 1, 1, 0, 0, 0]);
    expect(events.at(-1)).toMatchObject({ step: 9, steps: 9, tokensPerBlock: 3, token: 2 });
    expect(events.map((e) => e.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const noise = new Rng(7).normal([3, model.numPatches, model.tokenDim]);
    const direct = model.reverse(noise, labels, { guidance: 0.5 });
    await expectClose(x, await direct.data() as Float32Array, 0, 'sample = reverse(Rng(seed) noise)');
    const again = await sample({ model, labels, guidance: 0.5, seed: 7 });
    await expectClose(again, await x.data() as Float32Array, 0, 'same seed, same samples');
    const denoised = await sample({ model, noise, labels, guidance: 0.5, denoise: { noiseStd: 0.1 } });
    const expected = selfDenoise(model, direct, labels, { noiseStd: 0.1 });
    await expectClose(denoised, await expected.data() as Float32Array, 1e-6, 'sample with denoise');
    const unconditional = await sample({ model, batchSize: 2, seed: 1 });
    expect(unconditional.shape).toEqual([2, 4, 4, 2]);
    // @fae/diffusion's conventions: { scale } = 1 + w, NHWC noise, an Rng, async progress callbacks.
    const nhwcNoise = model.unpatchify(noise);
    let calls = 0;
    const swapped = await sample({ model, labels, noise: nhwcNoise, guidance: { scale: 1.5 }, rng: new Rng(99), onProgress: async () => { calls++; } });
    await expectClose(swapped, await direct.data() as Float32Array, 0, 'diffusion-style options');
    expect(calls).toBe(9);
    await expect(sample({ model, labels, guidance: { scale: [] } })).rejects.toThrow(/piecewise/);
    tf.dispose([unconditional, nhwcNoise, swapped]);
    const zeros = tf.zeros([3, 4, 8]);
    await expect(sample({ model, labels: [1, 2], noise: zeros })).rejects.toThrow(ShapeError);
    tf.dispose([x, noise, direct, again, denoised, expected, zeros]);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('sample() cancelled from onProgress (sync throw or rejection) leaks no tensor', async () => {
    const model = await randomFlow(SMALL, 111);
    const before = tf.memory().numTensors;
    const cancel = new Error('cancelled');
    await expect(sample({ model, labels: [0, 1], onProgress: (e) => { if (e.step === 3) throw cancel; } })).rejects.toBe(cancel);
    expect(tf.memory().numTensors).toBe(before);
    await expect(sample({ model, batchSize: 1, denoise: { noiseStd: 0.1 }, onProgress: async (e) => { if (e.step === e.steps) throw cancel; } })).rejects.toBe(cancel);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('an abandoned reverse generator frees its KV caches and tokens', async () => {
    const model = await randomFlow(SMALL, 110);
    const z = tf.randomNormal([2, model.numPatches, model.tokenDim], 0, 1, 'float32', 3);
    const before = tf.memory().numTensors;
    const gen = model.reverseSteps(z, [0, 1]);
    gen.next();
    gen.next();
    gen.next();
    gen.next(); // inside the second block, caches full
    expect(tf.memory().numTensors).toBeGreaterThan(before);
    gen.return(undefined as never);
    expect(tf.memory().numTensors).toBe(before);
    for (const block of model.blocks) for (const layer of block.attn_blocks) expect(layer.attention.sampleMode).toBe(false);
    z.dispose();
    model.dispose();
  });
});

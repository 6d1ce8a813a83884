// Recipes are valid data (the paper's shapes, the digits hyperparameters); --encoder picks the
// preset's input size and statistics; preprocessing resizes the whole image to the encoder input
// (never a centre 224 crop of 256) and normalises.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import '@fae/testing';
import { resizeTensor } from '@fae/core';
import { HALF, IMAGENET_MEAN, IMAGENET_STD, RECIPES, checkRecipe, getRecipe, scaleRecipe, toEncoderPixels, withEncoder } from '@fae/pipeline';

describe('recipes', () => {
  it('every recipe checks; the paper recipes have the paper shapes', () => {
    for (const r of Object.values(RECIPES)) expect(checkRecipe(r)).toBe(r);
    const p = getRecipe('paper-dinov2-g');
    expect(p.encoder).toMatchObject({ kind: 'pretrained', source: 'facebook/dinov2-giant', encoderSize: 224 });
    expect(p.image).toEqual({ size: 256, crop: 'adm', flip: true });
    expect(p.latentChannels).toBe(32);
    expect(p.adapter).toMatchObject({ depth: 1, heads: 24, headDim: 256 });
    expect(p.featureDecoder).toMatchObject({ depth: 6, heads: 24 });
    expect(p.pixelDecoder).toMatchObject({ width: 1024, depth: 24, noise: { mode: 'fixed', sigma: 0.4 } });
    expect(p.stages.ib).toMatchObject({ steps: 1_000_000, batch: 1024, lr: 1e-4, warmup: 1000 });
    expect(p.generators.dit!.config).toMatchObject({ hiddenSize: 1152, depth: 28, patchSize: 1 });
    expect(getRecipe('paper-siglip2').encoder).toMatchObject({ source: 'google/siglip2-giant-opt-patch16-256', encoderSize: 256, mean: HALF });
    expect(() => getRecipe('nope')).toThrow(/unknown recipe 'nope' \(known: smoke, digits/);
    expect(() => checkRecipe({ ...getRecipe('smoke'), stages: { ...getRecipe('smoke').stages, ia: { steps: 0, batch: 1, lr: 1 } } })).toThrow(/stages\.ia.*steps/);
  });

  it('--encoder takes the preset input size and statistics; scaleRecipe keeps samples seen', () => {
    const d = withEncoder(getRecipe('smoke'), 'facebook/dinov2-small');
    expect(d.encoder).toEqual({ kind: 'pretrained', source: 'facebook/dinov2-small', encoderSize: 224, mean: IMAGENET_MEAN, std: IMAGENET_STD });
    const s = withEncoder(getRecipe('smoke'), 'google/siglip2-base-patch16-256');
    expect(s.encoder).toMatchObject({ encoderSize: 256, mean: HALF, std: HALF });
    const scaled = scaleRecipe(getRecipe('digits'), { batch: 256 });
    expect(scaled.stages.ib).toMatchObject({ steps: 250, batch: 256 });
    expect(scaled.stages.ib.lr).toBeCloseTo(1e-3 * Math.sqrt(8), 12);
  });
});

describe('preprocessing', () => {
  beforeAll(() => tf.setBackend('cpu'));
  it('256 -> 224 resizes the whole image (PyTorch bicubic) and normalises; 0.5/0.5 is x*2-1 exactly', async () => {
    const x = tf.randomUniform([1, 256, 256, 3], 0, 1, 'float32', 1);
    const p = { imageSize: 256, encoderSize: 224, crop: 'adm' as const, mean: IMAGENET_MEAN, std: IMAGENET_STD };
    const got = toEncoderPixels(x, p);
    const want = tf.tidy(() => tf.div(tf.sub(resizeTensor(x, { height: 224, width: 224 }, { method: 'bicubic', antialias: false }), IMAGENET_MEAN), IMAGENET_STD));
    expect(got.shape).toEqual([1, 224, 224, 3]);
    const [g, w] = [await got.data(), await want.data()];
    let worst = 0;
    for (let i = 0; i < g.length; i++) worst = Math.max(worst, Math.abs(g[i] - w[i]));
    expect(worst).toBeLessThan(1e-5);
    // a centre crop would match the resized image nowhere near this closely
    const crop = tf.tidy(() => tf.div(tf.sub(tf.slice(x, [0, 16, 16, 0], [1, 224, 224, 3]), IMAGENET_MEAN), IMAGENET_STD));
    const c = await crop.data();
    let diff = 0;
    for (let i = 0; i < g.length; i++) diff += Math.abs(g[i] - c[i]) / g.length;
    expect(diff).toBeGreaterThan(0.1);
    const y = tf.randomUniform([2, 28, 28, 3], 0, 1, 'float32', 2);
    const half = toEncoderPixels(y, { imageSize: 28, encoderSize: 28, crop: 'resize', mean: HALF, std: HALF });
    const ref = tf.tidy(() => tf.sub(tf.mul(y, 2), 1));
    expect(Array.from(await half.data())).toEqual(Array.from(await ref.data()));
    tf.dispose([x, got, want, crop, y, half, ref]);
  });
});

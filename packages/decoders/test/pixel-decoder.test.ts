import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { describeBackends, expectClose, expectNoLeaks, ref64, ref64fae, ref64transformer } from '@fae/testing';
import { ConfigError, ShapeError } from '@fae/core';
import {
  PIXEL_DECODER_PRESETS, PixelDecoder, addFeatureNoise, internalKey, pixelDecoderParameterCount, raeKey, resolvePixelDecoderConfig,
  type PixelDecoderConfig,
} from '@fae/decoders';
import { checkParamGrads, randomize } from './helpers.js';

const SMALL: Partial<PixelDecoderConfig> = {
  inputDim: 6, width: 8, depth: 2, heads: 2, mlpDim: 12, gridSize: 2, imageSize: 8, layerNormEps: 1e-6,
  outputMean: [0.5, 0.4, 0.3], outputStd: [0.2, 0.25, 0.3],
};
const LN = { layernorm_before: 1, layernorm_after: 1, 'decoder_norm.weight': 1 };

/** Our image = ref64 image * std + mean. */
function denorm(img: ref64.Nd, c: PixelDecoderConfig): ref64.Nd {
  return ref64.map(img, (v, i) => v * c.outputStd[i % 3] + c.outputMean[i % 3]);
}

describe('PixelDecoder config and presets', () => {
  it('counts parameters analytically like Module.parameterCount()', () => {
    for (const c of [SMALL, { ...SMALL, clsToken: false }, { ...SMALL, imageSize: 16, depth: 0 }]) {
      const m = new PixelDecoder(c);
      expect(pixelDecoderParameterCount(c)).toBe(m.parameterCount());
      m.dispose();
    }
  });

  it('the paper preset (ViT-L) is within 0.5% of 305.36M', () => {
    const p = PIXEL_DECODER_PRESETS['fae-dinov2-g-vit-l'];
    expect(p.parameters).toBe(304_936_704);
    expect(Math.abs(p.parameters - 305.36e6) / 305.36e6).toBeLessThan(0.005);
    expect(p.config.imageSize / p.config.gridSize).toBe(16);
    expect(p.config.noise).toEqual({ mode: 'fixed', sigma: 0.4 });
  });

  it('maps between our keys and RAE GeneralDecoder keys both ways', () => {
    const pairs = [
      ['decoder_layers.3.attn.query.weight', 'decoder_layers.3.attention.attention.query.weight'],
      ['decoder_layers.0.attn.dense.bias', 'decoder_layers.0.attention.output.dense.bias'],
      ['decoder_layers.11.mlp.fc1.weight', 'decoder_layers.11.intermediate.dense.weight'],
      ['decoder_layers.2.mlp.fc2.bias', 'decoder_layers.2.output.dense.bias'],
      ['decoder_pred.weight', 'decoder_pred.weight'],
    ];
    for (const [ours, rae] of pairs) {
      expect(raeKey(ours)).toBe(rae);
      expect(internalKey(rae)).toBe(ours);
    }
    expect(() => resolvePixelDecoderConfig({ imageSize: 100, gridSize: 16 })).toThrow(ConfigError);
  });
});

describeBackends('PixelDecoder', () => {
  it('forward matches the float64 reference of RAE\'s decoder, loading RAE-named weights', async () => {
    const dec = new PixelDecoder(SMALL);
    const sd = await randomize(dec, 500, 0.5, LN);
    expect([...sd.keys()]).toContain('decoder_layers.1.attention.attention.value.weight');
    expect([...sd.keys()]).toContain('trainable_cls_token');
    const x = ref64.randomNd([2, 2, 2, 6], 13, 1.5);
    const xt = ref64.toTensor(x);
    const img = await expectNoLeaks(() => dec.forward(xt));
    expect(img.shape).toEqual([2, 8, 8, 3]);
    const ref = denorm(ref64fae.pixelDecoder(x, sd, { depth: 2, heads: 2, patchSize: 4, eps: 1e-6 }), dec.config);
    await expectClose(img, ref.data, 1e-5);
    tf.dispose([xt, img]);
    dec.dispose();
  });

  it('decodes a larger token grid to a larger image (sin-cos table of that grid)', async () => {
    const dec = new PixelDecoder(SMALL);
    const sd = await randomize(dec, 600, 0.5, LN);
    const t = ref64transformer.sincos2d(8, 3, 3);
    const table = ref64.nd([1, 10, 8]);
    table.data.set(t.data, 8); // the CLS row stays zero
    sd.set('decoder_pos_embed', table);
    const x = ref64.randomNd([1, 3, 3, 6], 14);
    const xt = ref64.toTensor(x);
    const img = await expectNoLeaks(() => dec.forward(xt));
    expect(img.shape).toEqual([1, 12, 12, 3]);
    await expectClose(img, denorm(ref64fae.pixelDecoder(x, sd, { depth: 2, heads: 2, patchSize: 4, eps: 1e-6 }), dec.config).data, 1e-5);
    tf.dispose([xt, img]);
    dec.dispose();
  });

  it('adds noise only in training (or when asked): fixed, rms-scaled and uniform sigma', async () => {
    const x = ref64.randomNd([2, 2, 2, 6], 15, 2);
    const xt = ref64.toTensor(x);
    const eps = ref64.randomNd([2, 2, 2, 6], 16);
    const u = [0.3, 0.7];
    const rng = { normal: () => ref64.toTensor(eps), uniform: (s: number[], lo = 0, hi = 1) => { expect(s).toEqual([2]); return tf.tensor1d(u.map((v) => lo + v * (hi - lo))); } };
    const rms = [0, 1].map((b) => Math.sqrt(x.data.slice(b * 24, (b + 1) * 24).reduce((s, v) => s + v * v, 0) / 24));
    const cases: Array<[PixelDecoderConfig['noise'], (i: number) => number]> = [
      [{ mode: 'fixed', sigma: 0.4 }, () => 0.4],
      [{ mode: 'rms', sigma: 0.5 }, (i) => 0.5 * rms[Math.floor(i / 24)]],
      [{ mode: 'uniform', sigma: 0.8 }, (i) => 0.8 * u[Math.floor(i / 24)]],
    ];
    for (const [cfg, scale] of cases) {
      const y = await expectNoLeaks(() => addFeatureNoise(xt, cfg, rng));
      await expectClose(y, x.data.map((v, i) => v + scale(i) * eps.data[i]), 1e-5, cfg.mode);
      y.dispose();
    }
    const dec = new PixelDecoder({ ...SMALL, noise: { mode: 'fixed', sigma: 0.4 } });
    const a = dec.forward(xt);
    dec.train();
    const b = dec.forward(xt, { rng });
    const c = dec.forward(xt, { noise: false });
    const diff = (await tf.max(tf.abs(tf.sub(a, b))).data())[0];
    expect(diff).toBeGreaterThan(1e-3);
    await expectClose(c, a, 1e-6, 'noise: false in training mode');
    tf.dispose([xt, a, b, c]);
    dec.dispose();
  });

  it('gradients match central differences of the float64 reference', async () => {
    const dec = new PixelDecoder({ ...SMALL, depth: 1 });
    const sd = await randomize(dec, 700, 0.5, LN);
    const x = ref64.randomNd([1, 2, 2, 6], 17);
    const xt = ref64.toTensor(x);
    await checkParamGrads({
      module: dec, sd, wOut: ref64.randomNd([1, 8, 8, 3], 18),
      keys: ['decoder_embed.weight', 'decoder_layers.0.attn.key.weight', 'decoder_layers.0.mlp.fc1.weight', 'decoder_layers.0.layernorm_before.weight', 'decoder_pred.weight', 'trainable_cls_token'].map(internalKey),
      forward: () => dec.forward(xt),
      reference: () => denorm(ref64fae.pixelDecoder(x, sd, { depth: 1, heads: 2, patchSize: 4, eps: 1e-6 }), dec.config),
      isLinear: (k) => k.endsWith('.weight') && !k.includes('layernorm'),
      sdKey: raeKey,
    });
    xt.dispose();
    dec.dispose();
  });

  it('rejects features of the wrong width', () => {
    const dec = new PixelDecoder(SMALL);
    const x = tf.zeros([1, 2, 2, 5]);
    expect(() => dec.forward(x)).toThrow(ShapeError);
    x.dispose();
    dec.dispose();
  });
});

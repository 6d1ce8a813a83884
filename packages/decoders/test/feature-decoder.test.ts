import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { describeBackends, expectClose, expectNoLeaks, ref64, ref64fae, ref64transformer } from '@fae/testing';
import { ConfigError, ShapeError } from '@fae/core';
import {
  FEATURE_DECODER_PRESETS, FeatureDecoder, featureDecoderParameterCount, resolveFeatureDecoderConfig, type FeatureDecoderConfig,
} from '@fae/decoders';
import { checkParamGrads, randomize } from './helpers.js';

const SMALL: Partial<FeatureDecoderConfig> = { latentChannels: 3, outputDim: 16, depth: 2, heads: 2, gridSize: 3 };

function refConfig(c: FeatureDecoderConfig): ref64fae.FeatureDecoderRefConfig {
  return { depth: c.depth, heads: c.heads, positions: c.positions === 'sincos', rope: c.rope, outProj: c.outProj, eps: c.normEps };
}

const VARIANTS: Array<[string, Partial<FeatureDecoderConfig>]> = [
  ['paper layout (RoPE, sin-cos positions, no out_proj)', SMALL],
  ['wider body with out_proj, no RoPE, no positions', { ...SMALL, width: 24, heads: 3, outProj: true, rope: false, positions: 'none' }],
];

describe('FeatureDecoder config and presets', () => {
  it('counts parameters analytically like Module.parameterCount()', () => {
    for (const c of [...VARIANTS.map(([, v]) => v), { ...SMALL, depth: 0 }, { ...SMALL, mlpRatio: 2.5, qkvBias: false }]) {
      const m = new FeatureDecoder(c);
      expect(featureDecoderParameterCount(c)).toBe(m.parameterCount());
      m.dispose();
    }
  });

  it('the paper preset has 170,428,416 parameters (170.43M within 0.5%)', () => {
    const p = FEATURE_DECODER_PRESETS['fae-dinov2-g'];
    expect(p.parameters).toBe(170_428_416);
    expect(Math.abs(p.parameters - 170.43e6) / 170.43e6).toBeLessThan(0.005);
    expect(p.config.width / p.config.heads).toBe(64);
  });

  it('rejects inconsistent configs', () => {
    expect(() => resolveFeatureDecoderConfig({ outputDim: 16, width: 24, heads: 2 })).toThrow(/outProj/);
    expect(() => resolveFeatureDecoderConfig({ outputDim: 18, heads: 4 })).toThrow(ConfigError);
  });
});

describeBackends('FeatureDecoder', () => {
  for (const [name, cfg] of VARIANTS) {
    it(`forward matches the float64 reference: ${name}`, async () => {
      const dec = new FeatureDecoder(cfg);
      const sd = await randomize(dec, 200, 0.5, { 'norm1.weight': 1, 'norm2.weight': 1, 'norm.weight': 1 });
      const z = ref64.randomNd([2, 3, 3, 3], 9, 1.5);
      const zt = ref64.toTensor(z);
      const y = await expectNoLeaks(() => dec.forward(zt));
      expect(y.shape).toEqual([2, 3, 3, 16]);
      await expectClose(y, ref64fae.featureDecoder(z, sd, refConfig(dec.config)).data, 1e-5);
      tf.dispose([zt, y]);
      dec.dispose();
    });
  }

  it('decodes other grids with their own sin-cos table and RoPE', async () => {
    const dec = new FeatureDecoder(SMALL);
    const sd = await randomize(dec, 300, 0.5, { 'norm1.weight': 1, 'norm2.weight': 1, 'norm.weight': 1 });
    sd.set('pos_embed', ref64.reshape(ref64transformer.sincos2d(16, 2, 4), [1, 8, 16]));
    const z = ref64.randomNd([1, 2, 4, 3], 10);
    const zt = ref64.toTensor(z);
    const y = await expectNoLeaks(() => dec.forward(zt));
    expect(y.shape).toEqual([1, 2, 4, 16]);
    await expectClose(y, ref64fae.featureDecoder(z, sd, refConfig(dec.config)).data, 1e-5);
    tf.dispose([zt, y]);
    dec.dispose();
  });

  it('gradients match central differences of the float64 reference', async () => {
    const dec = new FeatureDecoder({ ...SMALL, depth: 1 });
    const sd = await randomize(dec, 400, 0.5, { 'norm1.weight': 1, 'norm2.weight': 1, 'norm.weight': 1 });
    const z = ref64.randomNd([2, 3, 3, 3], 11);
    const zt = ref64.toTensor(z);
    await checkParamGrads({
      module: dec, sd, wOut: ref64.randomNd([2, 3, 3, 16], 12),
      keys: ['in_proj.weight', 'blocks.0.attn.qkv.weight', 'blocks.0.mlp.w12.weight', 'blocks.0.norm2.weight', 'norm.weight'],
      forward: () => dec.forward(zt),
      reference: () => ref64fae.featureDecoder(z, sd, refConfig(dec.config)),
    });
    expect([...dec.trainableVariables().keys()]).not.toContain('pos_embed');
    zt.dispose();
    dec.dispose();
  });

  it('rejects latents of the wrong shape', () => {
    const dec = new FeatureDecoder(SMALL);
    const z = tf.zeros([1, 3, 3, 4]);
    expect(() => dec.forward(z)).toThrow(ShapeError);
    z.dispose();
    dec.dispose();
  });
});

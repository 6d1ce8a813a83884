import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { describeBackends, expectClose, expectNoLeaks, ref64, ref64fae, ref64transformer } from '@fae/testing';
import { ConfigError, ShapeError, type Module } from '@fae/core';
import {
  ADAPTER_PRESETS, LatentStatsAccumulator, PRESETS, SingleAttentionEncoder, adapterParameterCount, computeLatentStats,
  gaussianKl, resolveAdapterConfig, type SingleAttentionEncoderConfig,
} from '@fae/adapter';

/** Loads random values (PyTorch layout) into every parameter and buffer; returns them in float64. */
async function randomize(m: Module, seed: number, scale = 0.5): Promise<ref64fae.StateDict64> {
  const sd = await m.stateDict();
  const out: ref64fae.StateDict64 = new Map();
  const tensors: Record<string, tf.Tensor> = {};
  let s = seed;
  for (const [k, v] of sd) {
    let r = ref64.randomNd(v.shape, s++, scale);
    if (k.endsWith('latent_std')) r = ref64.map(r, (x) => 1 + Math.abs(x));
    out.set(k, r);
    tensors[k] = ref64.toTensor(r);
  }
  await m.loadStateDict(tensors);
  tf.dispose(Object.values(tensors));
  return out;
}

function refConfig(c: SingleAttentionEncoderConfig): ref64fae.AdapterRefConfig {
  return {
    latentChannels: c.latentChannels, depth: c.depth, heads: c.heads, headDim: c.headDim, preNorm: c.preNorm,
    mlp: c.mlpRatio > 0, activation: c.activation === 'gelu' ? 'gelu' : 'identity', positions: c.positions, logvarClamp: c.logvarClamp,
  };
}

const SMALL: Partial<SingleAttentionEncoderConfig> = { inputDim: 8, latentChannels: 3, heads: 2, headDim: 4, gridSize: 3 };
const VARIANTS: Array<[string, Partial<SingleAttentionEncoderConfig>]> = [
  ['paper layout (1 layer, sin-cos positions)', { ...SMALL }],
  ['linear baseline (depth 0)', { ...SMALL, depth: 0 }],
  ['2-layer transformer (pre-norm, MLP, RoPE)', { ...SMALL, depth: 2, preNorm: true, mlpRatio: 2, positions: 'rope' }],
  ['learned positions, no bias', { ...SMALL, positions: 'learned', bias: false }],
];

describe('adapter config and presets', () => {
  it('counts parameters analytically like Module.parameterCount()', () => {
    const configs: Array<Partial<SingleAttentionEncoderConfig>> = [
      ...VARIANTS.map(([, c]) => c),
      { ...SMALL, depth: 3, mlpRatio: 1.5, preNorm: true, positions: 'none' },
    ];
    for (const c of configs) {
      const m = new SingleAttentionEncoder(c);
      expect(adapterParameterCount(c)).toBe(m.parameterCount());
      m.dispose();
    }
  });

  it('the paper preset is within 0.5% of 38.17M and every preset count is analytic', () => {
    const paper = ADAPTER_PRESETS['fae-dinov2-g'];
    expect(paper.parameters).toBe(38_260_288);
    expect(Math.abs(paper.parameters - 38.17e6) / 38.17e6).toBeLessThan(0.005);
    for (const [name, p] of Object.entries(PRESETS)) expect(p.parameters, name).toBe(adapterParameterCount(p.config));
  });

  it('rejects invalid configs with ConfigError naming the field', () => {
    expect(() => resolveAdapterConfig({ heads: 0 })).toThrow(ConfigError);
    expect(() => resolveAdapterConfig({ depth: -1 })).toThrow(/depth/);
    expect(() => resolveAdapterConfig({ positions: 'rope', headDim: 6 })).toThrow(/headDim/);
    expect(() => resolveAdapterConfig({ logvarClamp: [3, 1] })).toThrow(/logvarClamp/);
  });

  it('latent statistics accumulate in a stream and merge like one pass', () => {
    const x = ref64.randomNd([50, 4], 3, 2);
    const a = new LatentStatsAccumulator(4);
    a.addValues(x.data.subarray(0, 4 * 17));
    const b = new LatentStatsAccumulator(4);
    b.addValues(x.data.subarray(4 * 17, 4 * 30));
    b.addValues(x.data.subarray(4 * 30));
    const r = a.merge(b).result();
    for (let k = 0; k < 4; k++) {
      const col = Array.from({ length: 50 }, (_, i) => x.data[i * 4 + k]);
      const mean = col.reduce((s, v) => s + v, 0) / 50;
      const std = Math.sqrt(col.reduce((s, v) => s + (v - mean) ** 2, 0) / 50);
      expect(r.mean[k]).toBeCloseTo(mean, 12);
      expect(r.std[k]).toBeCloseTo(std, 12);
    }
    expect(r.count).toBe(50);
  });
});

describeBackends('SingleAttentionEncoder', () => {
  for (const [name, cfg] of VARIANTS) {
    it(`forward matches the float64 reference: ${name}`, async () => {
      const enc = new SingleAttentionEncoder(cfg);
      const sd = await randomize(enc, 100);
      const x = ref64.randomNd([2, 3, 3, 8], 7, 1.5);
      const xt = ref64.toTensor(x);
      const moments = await expectNoLeaks(() => enc.forward(xt), 'forward');
      expect(moments.shape).toEqual([2, 3, 3, 6]);
      const ref = ref64fae.singleAttentionEncoder(x, sd, refConfig(enc.config));
      await expectClose(moments, ref.moments.data, 1e-5, 'moments');
      const out = await expectNoLeaks(() => enc.encode(xt), 'encode');
      await expectClose(out.mean, ref.mean.data, 1e-5, 'mean');
      await expectClose(out.logvar, ref.logvar.data, 1e-5, 'logvar');
      await expectClose(out.z, ref.mean.data, 1e-5, 'z = mean');
      tf.dispose([xt, moments, out.mean, out.logvar, out.z]);
      enc.dispose();
    });
  }

  it('sin-cos positions are the DiT table, frozen, and recomputed for other grids', async () => {
    const enc = new SingleAttentionEncoder(SMALL);
    await expectClose(enc.posEmbed!, ref64transformer.sincos2d(8, 3, 3).data, 1e-6, 'pos_embed');
    expect([...enc.trainableVariables().keys()]).not.toContain('pos_embed');
    expect(enc.namedParameters().map(([k]) => k)).toContain('pos_embed');
    const sd = await randomize(enc, 5);
    sd.set('pos_embed', ref64.reshape(ref64transformer.sincos2d(8, 2, 4), [1, 8, 8]));
    const x = ref64.randomNd([1, 2, 4, 8], 9);
    const xt = ref64.toTensor(x);
    const y = await expectNoLeaks(() => enc.forward(xt));
    await expectClose(y, ref64fae.singleAttentionEncoder(x, sd, refConfig(enc.config)).moments.data, 1e-5, 'moments on a 2x4 grid');
    tf.dispose([xt, y]);
    enc.dispose();
  });

  it('samples z = mean + exp(logvar / 2) eps and computes the KL like the reference', async () => {
    const enc = new SingleAttentionEncoder({ ...SMALL, logvarClamp: [-2, 1] });
    await randomize(enc, 11, 1.5);
    const x = ref64.toTensor(ref64.randomNd([2, 3, 3, 8], 12));
    const eps = ref64.randomNd([2, 3, 3, 3], 13);
    const rng = { normal: (shape: number[]) => { expect(shape).toEqual([2, 3, 3, 3]); return ref64.toTensor(eps); } };
    const out = await expectNoLeaks(() => enc.encode(x, { sample: true, rng }));
    const mean = await ref64.fromTensor(out.mean);
    const logvar = await ref64.fromTensor(out.logvar);
    expect(Math.min(...logvar.data)).toBeGreaterThanOrEqual(-2);
    expect(Math.max(...logvar.data)).toBeLessThanOrEqual(1);
    await expectClose(out.z, mean.data.map((m, i) => m + Math.exp(logvar.data[i] / 2) * eps.data[i]), 1e-5, 'z');
    for (const red of ['mean', 'sum'] as const) {
      const kl = await expectNoLeaks(() => gaussianKl(out.mean, out.logvar, red));
      await expectClose(kl, ref64fae.gaussianKl(mean, logvar, red), 1e-5, `kl ${red}`);
      kl.dispose();
    }
    tf.dispose([x, out.mean, out.logvar, out.z]);
    enc.dispose();
  });

  it('gradients match central differences of the float64 reference', async () => {
    const cfg = { ...SMALL, depth: 1, preNorm: true, positions: 'rope' as const };
    const enc = new SingleAttentionEncoder(cfg);
    const sd = await randomize(enc, 21, 0.6);
    const x = ref64.randomNd([2, 3, 3, 8], 22);
    const wOut = ref64.randomNd([2, 3, 3, 6], 23);
    const xt = ref64.toTensor(x);
    const wt = ref64.toTensor(wOut);
    const rc = refConfig(enc.config);
    const loss = () => tf.sum(tf.mul(enc.forward(xt), wt)) as tf.Scalar;
    const vars = enc.trainableVariables();
    const { grads, value } = await expectNoLeaks(() => tf.variableGrads(loss, [...vars.values()]));
    const gx = await expectNoLeaks(() => tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(enc.forward(xx), wt)))(xt));
    const checks: Array<[string, Float64Array, tf.Tensor, (i: number) => number]> = [];
    const byName = new Map([...vars].map(([k, v]) => [k, grads[v.name]]));
    for (const key of ['blocks.0.attn.qkv.weight', 'blocks.0.attn.proj.weight', 'blocks.0.norm1.weight', 'out_proj.bias']) {
      const p = sd.get(key)!;
      // our gradient is in our layout; map a PyTorch-layout flat index to ours
      const layoutIndex = (i: number) => key.endsWith('.weight') && p.shape.length === 2 ? (i % p.shape[1]) * p.shape[0] + Math.floor(i / p.shape[1]) : i;
      checks.push([key, p.data, byName.get(key)!, layoutIndex]);
    }
    checks.push(['features', x.data, gx, (i) => i]);
    for (const [key, data, g, toOurs] of checks) {
      const f = () => ref64transformer.weightedSum(ref64fae.singleAttentionEncoder(x, sd, rc).moments, wOut);
      const idx = ref64transformer.sampleIndices(data.length, 12);
      const fd = ref64transformer.centralDifferences(f, data, idx, 1e-5);
      const ours = (await g.data()) as Float32Array;
      await expectClose(idx.map((i) => ours[toOurs(i)]), fd, 2e-3, `d loss / d ${key}`);
    }
    tf.dispose([xt, wt, value, gx, ...Object.values(grads)]);
    enc.dispose();
  });

  it('normalize / denormalize apply the stored statistics and round-trip', async () => {
    const enc = new SingleAttentionEncoder(SMALL);
    enc.setLatentStats({ mean: Float64Array.of(1, -2, 0.5), std: Float64Array.of(2, 0.5, 1) });
    const z = ref64.randomNd([2, 3, 3, 3], 4);
    const zt = ref64.toTensor(z);
    const n = await expectNoLeaks(() => enc.normalize(zt));
    await expectClose(n, z.data.map((v, i) => (v - [1, -2, 0.5][i % 3]) / [2, 0.5, 1][i % 3]), 1e-6);
    const back = await expectNoLeaks(() => enc.denormalize(n));
    await expectClose(back, z.data, 1e-6);
    expect(() => enc.normalize(tf.zeros([1, 4]))).toThrow(ShapeError);
    tf.dispose([zt, n, back]);
    enc.dispose();
  });

  it('computeLatentStats streams posterior means; latents() normalises with them', async () => {
    const enc = new SingleAttentionEncoder(SMALL);
    await randomize(enc, 31);
    enc.setLatentStats({ mean: new Float64Array(3), std: Float64Array.of(1, 1, 1) });
    const batches = [0, 1, 2].map((i) => ref64.toTensor(ref64.randomNd([2, 3, 3, 8], 40 + i)));
    const stats = await expectNoLeaks(() => computeLatentStats(enc, batches));
    const acc = new LatentStatsAccumulator(3);
    for (const b of batches) {
      const r = enc.encode(b);
      await acc.add(r.mean);
      tf.dispose([r.mean, r.logvar, r.z]);
    }
    const direct = acc.result();
    expect(stats.count).toBe(54);
    for (let k = 0; k < 3; k++) expect(stats.std[k]).toBeCloseTo(direct.std[k], 10);
    enc.setLatentStats(stats);
    const all = tf.concat(batches, 0);
    const lat = await expectNoLeaks(() => enc.latents(all));
    const v = (await lat.data()) as Float32Array;
    for (let k = 0; k < 3; k++) {
      const col = Array.from({ length: v.length / 3 }, (_, i) => v[i * 3 + k]);
      const m = col.reduce((s, q) => s + q, 0) / col.length;
      const sd = Math.sqrt(col.reduce((s, q) => s + (q - m) ** 2, 0) / col.length);
      expect(Math.abs(m)).toBeLessThan(1e-4);
      expect(sd).toBeCloseTo(1, 4);
    }
    tf.dispose([...batches, all, lat]);
    enc.dispose();
  });

  it('rejects features of the wrong shape', () => {
    const enc = new SingleAttentionEncoder(SMALL);
    const [a, b] = [tf.zeros([2, 9, 8]), tf.zeros([1, 3, 3, 7])];
    expect(() => enc.forward(a)).toThrow(ShapeError);
    expect(() => enc.forward(b)).toThrow(/\[B, h, w, 8\]/);
    tf.dispose([a, b]);
    enc.dispose();
  });
});

import * as tf from '@tensorflow/tfjs-core';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { describeBackends, expectClose, ref64 } from '@fae/testing';
import { MemoryTensorStore } from '@fae/core';
import {
  FeatureAutoEncoder, FeatureCache, FeatureCacheWriter, PixelDecoder, trainStageIa, trainStageIb, trainStageII, type StageProgress,
} from '@fae/decoders';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
const tmp = async () => {
  const d = await mkdtemp(join(tmpdir(), 'fae-train-'));
  dirs.push(d);
  return d;
};

/**
 * Synthetic "encoder features" of 48 small images: a 4x4 grid of 16-d features that are a fixed
 * linear mix of 3 smooth source channels (so a 4-channel latent can hold them), plus images whose
 * 2x2 blocks are the first 3 sources (so the pixel decoder has something to learn).
 */
async function syntheticCache(withImages: boolean): Promise<FeatureCache> {
  const n = 48, g = 4, d = 16, k = 3;
  const mix = ref64.randomNd([k, d], 2, 1);
  const phase = ref64.randomNd([n, k, 2], 3, Math.PI);
  const src = new Float64Array(n * g * g * k);
  for (let s = 0; s < n; s++)
    for (let i = 0; i < g; i++)
      for (let j = 0; j < g; j++)
        for (let c = 0; c < k; c++) src[((s * g + i) * g + j) * k + c] = Math.sin(0.9 * i + phase.data[(s * k + c) * 2]) * Math.cos(0.7 * j + phase.data[(s * k + c) * 2 + 1]);
  const feats = new Float32Array(n * g * g * d);
  for (let t = 0; t < n * g * g; t++)
    for (let o = 0; o < d; o++) {
      let v = 0;
      for (let c = 0; c < k; c++) v += src[t * k + c] * mix.data[c * d + o];
      feats[t * d + o] = v;
    }
  const imgs = new Float32Array(n * 8 * 8 * 3);
  for (let s = 0; s < n; s++)
    for (let y = 0; y < 8; y++)
      for (let x = 0; x < 8; x++)
        for (let c = 0; c < 3; c++) imgs[((s * 8 + y) * 8 + x) * 3 + c] = 0.5 + 0.45 * src[((s * g + (y >> 1)) * g + (x >> 1)) * k + c];
  const dir = await tmp();
  const w = await FeatureCacheWriter.create(dir, { shardSize: 16, dtype: 'F32' });
  const f = tf.tensor4d(feats, [n, g, g, d]);
  const im = tf.tensor4d(imgs, [n, 8, 8, 3]);
  await w.add(f, withImages ? { labels: Array.from({ length: n }, (_, i) => i % 10), images: im } : {});
  await w.close();
  tf.dispose([f, im]);
  return FeatureCache.open(dir);
}

const tinyFae = () => new FeatureAutoEncoder(
  { inputDim: 16, latentChannels: 4, heads: 2, headDim: 8, gridSize: 4 },
  { depth: 1, heads: 2, mlpRatio: 2 },
);
const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;

describeBackends('training stages', () => {
  it('stage Ib: a tiny FAE on synthetic feature maps reduces its loss substantially', async () => {
    const cache = await syntheticCache(false);
    const fae = tinyFae();
    const events: StageProgress[] = [];
    const before = tf.memory().numTensors;
    const r = await trainStageIb({
      fae, data: cache.dataSource({ batchSize: 8, seed: 1 }), steps: 40, lr: 3e-2, warmupSteps: 3, seed: 3, clipNorm: 1,
      ema: { decay: 0.9 }, onProgress: (p) => { events.push(p); },
    });
    expect(r.losses).toHaveLength(40);
    const first = mean(r.losses.slice(0, 5));
    const last = mean(r.losses.slice(-5));
    expect(last).toBeLessThan(0.25 * first); // measured on cpu: ~0.11
    expect(events[0].lr).toBeCloseTo(3e-2 / 3, 10); // linear warm-up
    expect(events.at(-1)!.lr).toBeLessThan(0.01 * 3e-2); // cosine to 0
    expect(Object.keys(events[0].parts).sort()).toEqual(['kl', 'rec']);
    expect(events[0].stage).toBe('Ib');
    expect(r.ema).not.toBeNull();
    r.dispose();
    expect(tf.memory().numTensors).toBe(before);
    fae.dispose();
  });

  it('stage Ib resumes from a checkpoint with exactly the losses of an uninterrupted run', async () => {
    const cache = await syntheticCache(false);
    const opts = { steps: 8, lr: 2e-3, warmupSteps: 2, seed: 9 };
    const a = tinyFae();
    const init = new MemoryTensorStore(await a.stateDict());
    const full = await trainStageIb({ ...opts, fae: a, data: cache.dataSource({ batchSize: 8, seed: 4 }) });
    full.dispose();
    const dir = await tmp();
    const b = tinyFae();
    await b.loadStateDict(init);
    const stop = new Error('interrupted');
    await expect(trainStageIb({
      ...opts, fae: b, data: cache.dataSource({ batchSize: 8, seed: 4 }), checkpoint: { dir, every: 4 },
      onProgress: (p) => { if (p.step === 5) throw stop; },
    })).rejects.toBe(stop);
    expect((await readdir(dir)).filter((f) => f.endsWith('.safetensors')).length).toBeGreaterThan(0);
    const c = tinyFae(); // fresh weights: resume must restore everything
    const rest = await trainStageIb({ ...opts, fae: c, data: cache.dataSource({ batchSize: 8, seed: 4 }), checkpoint: { dir, every: 4 } });
    expect(rest.step).toBe(8);
    await expectClose(rest.losses, full.losses.slice(4), 1e-5, 'losses after resuming at step 4');
    rest.dispose();
    for (const m of [a, b, c]) m.dispose();
  });

  it('stage Ia and II: the pixel decoder learns from (reconstructed) features, with the GAN terms on', async () => {
    const cache = await syntheticCache(true);
    const dec = new PixelDecoder({ inputDim: 16, width: 16, depth: 1, heads: 2, mlpDim: 32, gridSize: 4, imageSize: 8, outputMean: [0.5, 0.5, 0.5], outputStd: [0.5, 0.5, 0.5] });
    const events: StageProgress[] = [];
    const ia = await trainStageIa({
      decoder: dec, data: cache.dataSource({ batchSize: 8, seed: 2 }), steps: 30, lr: 1e-2, warmupSteps: 2, seed: 5,
      objective: { perceptual: (p, t) => tf.mean(tf.abs(tf.sub(p, t))) as tf.Scalar, gan: { start: 20, discriminator: { ndf: 4, nLayers: 1 } } },
      onProgress: (p) => { events.push(p); },
    });
    const rec = events.map((e) => e.parts.rec);
    expect(mean(rec.slice(-5))).toBeLessThan(0.5 * mean(rec.slice(0, 5)));
    expect(events[10].parts.gan).toBeUndefined();
    expect(events[25].parts.gan).toBeDefined();
    expect(events[25].parts.ganWeight).toBeGreaterThan(0);
    expect(events[25].parts.disc).toBeGreaterThan(0);
    ia.dispose();

    const fae = tinyFae();
    const faeBefore = await fae.stateDict();
    const predBefore = Float32Array.from(await dec.decoderPred.weight.data());
    const ii = await trainStageII({ decoder: dec, fae, data: cache.dataSource({ batchSize: 8, seed: 2 }), steps: 3, lr: 1e-3, warmupSteps: 1 });
    expect(ii.losses.every(Number.isFinite)).toBe(true);
    const faeAfter = await fae.stateDict();
    for (const [k, v] of faeBefore) expect(Array.from(faeAfter.get(k)!.data), k).toEqual(Array.from(v.data));
    const predAfter = await dec.decoderPred.weight.data();
    expect(predAfter.some((v, i) => v !== predBefore[i])).toBe(true);
    ii.dispose();
    fae.dispose();
    dec.dispose();
  });

  it("stage Ia with objective { preset: 'fae-paper' }: D from 37.5% of the run, the adaptive GAN term from 50%", async () => {
    const cache = await syntheticCache(true);
    const dec = new PixelDecoder({ inputDim: 16, width: 16, depth: 1, heads: 2, mlpDim: 32, gridSize: 4, imageSize: 8, outputMean: [0.5, 0.5, 0.5], outputStd: [0.5, 0.5, 0.5] });
    const events: StageProgress[] = [];
    const perceptual = (p: tf.Tensor, t: tf.Tensor) => tf.mean(tf.square(tf.sub(p, t))) as tf.Scalar;
    const r = await trainStageIa({
      decoder: dec, data: cache.dataSource({ batchSize: 8, seed: 2 }), steps: 8, lr: 1e-3, warmupSteps: 1, seed: 5,
      objective: { preset: 'fae-paper', perceptual, discriminator: { ndf: 4, nLayers: 1 } },
      onProgress: (p) => { events.push(p); },
    });
    // ctx.step counts the steps done before: D trains from step 3 (= round(0.375 * 8)), G's GAN term from 4.
    expect(events.map((e) => e.parts.disc !== undefined)).toEqual([false, false, false, true, true, true, true, true]);
    expect(events.map((e) => e.parts.gan !== undefined)).toEqual([false, false, false, false, true, true, true, true]);
    expect(events.every((e) => e.parts.perceptual! > 0)).toBe(true);
    expect(events[5].parts.ganWeight).toBeGreaterThan(0);
    r.dispose();
    await expect(trainStageIa({ decoder: dec, data: cache.dataSource({ batchSize: 8, seed: 2 }), steps: 2, objective: { preset: 'fae-paper' } })).rejects.toThrow(/needs a perceptual loss/);
    dec.dispose();
  });
});

import * as tf from '@tensorflow/tfjs-core';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeBackends, expectNoLeaks } from '@fae/testing';
import { encodePng, writeNpz } from '@fae/core';
import {
  FeatureStatistics, InceptionAccumulator, ReconstructionFid, computeStatistics, evaluateImages, frechetDistance, imageFolderSource,
  inceptionScore, npzImageSource, openImageSource, precisionRecall, type FeatureExtractor, type InceptionFeature, type InceptionFeatures,
} from '@fae/eval';

/** A cheap stand-in for the Inception with the same interface: per-image colour statistics. */
const tinyExtractor: FeatureExtractor = {
  features(images: tf.Tensor, names: readonly InceptionFeature[]): InceptionFeatures {
    return tf.tidy(() => {
      const x = tf.div(tf.cast(images, 'float32'), 255); // [B, H, W, 3]
      const mean = tf.mean(x, [1, 2]); // [B, 3]
      const sq = tf.mean(tf.square(x), [1, 2]); // [B, 3]
      const out: InceptionFeatures = {};
      if (names.includes('2048')) out['2048'] = tf.concat([mean, sq, tf.sin(tf.mul(mean, 7))], 1) as tf.Tensor2D; // [B, 9]
      if (names.includes('spatial')) out.spatial = tf.concat([sq, tf.cos(tf.mul(sq, 5))], 1) as tf.Tensor2D; // [B, 6]
      if (names.includes('logits_unbiased')) out.logits_unbiased = tf.mul(tf.concat([mean, sq], 1), 4) as tf.Tensor2D; // [B, 6]
      return out;
    });
  },
};

const N = 13;
const H = 9, W = 11;
let dir = '';
const pixels: Uint8Array[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fae-eval-images-'));
  for (let i = 0; i < N; i++) {
    const data = Uint8Array.from({ length: H * W * 3 }, (_, k) => (k * (i + 3) * 7 + i * 31) % 256);
    pixels.push(data);
    await writeFile(join(dir, `img_${String(i).padStart(3, '0')}.png`), encodePng({ width: W, height: H, channels: 3, data }));
  }
  await writeFile(join(dir, 'notes.txt'), 'not an image');
  const all = new Uint8Array(N * H * W * 3);
  pixels.forEach((p, i) => all.set(p, i * H * W * 3));
  await writeFile(join(dir, 'samples.npz'), writeNpz({ arr_0: { dtype: 'U8', shape: [N, H, W, 3], data: all } }));
  await writeFile(join(dir, 'samples_z.npz'), writeNpz({ arr_0: { dtype: 'U8', shape: [N, H, W, 3], data: all } }, { compress: true }));
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Features of all images in one call (the reference for the streaming pipeline). */
async function directFeatures(name: InceptionFeature): Promise<Float32Array> {
  const x = tf.tensor4d(Int32Array.from(pixels.flatMap((p) => Array.from(p))), [N, H, W, 3], 'int32');
  const f = tinyExtractor.features(x, [name]);
  const data = (await f[name]!.data()) as Float32Array;
  tf.dispose([x, ...Object.values(f)]);
  return data;
}

describeBackends('evaluation pipeline', () => {
  it('reads a PNG folder and ADM .npz batches (stored and compressed) with the same pixels', async () => {
    for (const src of [await imageFolderSource(dir), await npzImageSource(join(dir, 'samples.npz')), await openImageSource(join(dir, 'samples_z.npz'))]) {
      expect(src.count).toBe(N);
      const seen: number[] = [];
      for await (const b of src.batches(5)) {
        expect(b.images.shape.slice(1)).toEqual([H, W, 3]);
        const d = await b.images.data();
        for (let i = 0; i < b.images.shape[0]; i++) seen.push(...Array.from(d.subarray(i * H * W * 3, i * H * W * 3 + 4)));
        b.images.dispose();
      }
      expect(seen).toEqual(pixels.flatMap((p) => Array.from(p.subarray(0, 4))));
    }
  });

  it('streams statistics, IS and precision/recall identical to computing on all features at once', async () => {
    const progress: number[] = [];
    const refFeat = { data: Float32Array.from({ length: 20 * 9 }, (_, i) => ((i * 37) % 101) / 101), rows: 20, dim: 9 };
    const refStats = { ...new FeatureStatistics(9).add(refFeat.data).toGaussian(), count: 20 };
    const source = await imageFolderSource(dir);
    const { report, statistics } = await expectNoLeaks(() =>
      evaluateImages(tinyExtractor, source, { batchSize: 4, reference: { pool: refStats, activations: refFeat }, isSplits: 2, onProgress: (p) => progress.push(p.done) }));
    expect(progress).toEqual([4, 8, 12, 13]);
    expect(report.count).toBe(N);
    const pool = await directFeatures('2048');
    const direct = new FeatureStatistics(9).add(pool, N).toGaussian();
    expect(Math.max(...statistics.pool.sigma.map((v, i) => Math.abs(v - direct.sigma[i])))).toBeLessThan(1e-12);
    expect(report.fid).toBeCloseTo(frechetDistance(direct, refStats), 10);
    expect(report.inception_score).toBeCloseTo(inceptionScore(await directFeatures('logits_unbiased'), 6, { splits: 2 }).mean, 10);
    const pr = await precisionRecall(refFeat, { data: pool, rows: N, dim: 9 });
    expect([report.precision, report.recall]).toEqual([pr.precision, pr.recall]);
    expect(statistics.spatial!.count).toBe(N);
    expect(report.sfid).toBeUndefined(); // the reference has no spatial statistics
  });

  it('shards merge to the statistics of the whole set; rFID of a set with itself is 0', async () => {
    const whole = await computeStatistics(tinyExtractor, await imageFolderSource(dir), { batchSize: 3 });
    const a = new InceptionAccumulator(tinyExtractor, { logits: false });
    const b = new InceptionAccumulator(tinyExtractor, { logits: false });
    for await (const batch of (await npzImageSource(join(dir, 'samples.npz'))).batches(6)) {
      await (a.count < 6 ? a : b).add(batch.images);
      batch.images.dispose();
    }
    const merged = FeatureStatistics.mergeAll([a.pool!, b.pool!]).toGaussian();
    expect(Math.max(...merged.sigma.map((v, i) => Math.abs(v - whole.pool.sigma[i])))).toBeLessThan(1e-12);
    const rfid = new ReconstructionFid(tinyExtractor);
    const x = tf.tensor4d(Int32Array.from(pixels.flatMap((p) => Array.from(p))), [N, H, W, 3], 'int32');
    await rfid.add(x, x);
    expect(Math.abs(rfid.rfid())).toBeLessThan(1e-9);
    x.dispose();
  });
});

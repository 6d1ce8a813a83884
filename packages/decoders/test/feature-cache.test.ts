import * as tf from '@tensorflow/tfjs-core';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { describeBackends, expectClose, expectNoLeaks, ref64 } from '@fae/testing';
import { ConfigError } from '@fae/core';
import { FeatureCache, FeatureCacheWriter, cacheFeatures } from '@fae/decoders';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
const tmp = async () => {
  const d = await mkdtemp(join(tmpdir(), 'fae-cache-'));
  dirs.push(d);
  return d;
};

describeBackends('feature cache', () => {
  it('runs an encoder once, writes shards and reads every sample back', async () => {
    const dir = await tmp();
    // a stand-in encoder: 2x2 average pooling of the image into 3 "feature" channels, + 0.5
    const encoder = { features: (px: tf.Tensor) => tf.tidy(() => tf.add(tf.avgPool(px as tf.Tensor4D, 2, 2, 'valid'), 0.5)) };
    const images = ref64.map(ref64.randomNd([10, 4, 4, 3], 1), (v) => (v + 1) / 2); // in [0, 1]
    const batches = [0, 4, 8].map((s) => {
      const n = Math.min(4, 10 - s);
      return { images: tf.tensor4d(Float32Array.from(images.data.slice(s * 48, (s + n) * 48)), [n, 4, 4, 3]), labels: Array.from({ length: n }, (_, i) => s + i) };
    });
    const seen: number[] = [];
    const before = tf.memory().numTensors;
    const index = await cacheFeatures(encoder, batches, dir, { shardSize: 3, dtype: 'F32', keepImages: true, meta: { encoder: 'avgpool' }, onProgress: (n) => seen.push(n) });
    expect(tf.memory().numTensors).toBe(before - 3); // the three batches were consumed, nothing else left
    expect(seen).toEqual([4, 8, 10]);
    expect(index.count).toBe(10);
    expect(index.shards.map((s) => s.count)).toEqual([3, 3, 3, 1]);
    expect(index.featureShape).toEqual([2, 2, 3]);
    expect((await readdir(dir)).sort()).toEqual(['index.json', 'shard-00000.safetensors', 'shard-00001.safetensors', 'shard-00002.safetensors', 'shard-00003.safetensors']);

    const cache = await FeatureCache.open(dir);
    expect(cache.index.meta).toEqual({ encoder: 'avgpool' });
    const all = await expectNoLeaks(() => cache.gather([9, 0, 4]));
    const ref = encoder.features(ref64.toTensor(images));
    const want = tf.gather(ref, [9, 0, 4]);
    await expectClose(all.features, want, 1e-6, 'features');
    expect(Array.from(await all.labels!.data())).toEqual([9, 0, 4]);
    const imgs = (await all.images!.data()) as Float32Array;
    for (const [j, i] of [9, 0, 4].entries()) {
      for (let k = 0; k < 48; k++) expect(Math.abs(imgs[j * 48 + k] - images.data[i * 48 + k])).toBeLessThanOrEqual(0.5 / 255 + 1e-6);
    }
    tf.dispose([all.features, all.labels!, all.images!, ref, want]);
  });

  it('shuffles each epoch reproducibly, visiting every sample once, and batches positionally', async () => {
    const dir = await tmp();
    const writer = await FeatureCacheWriter.create(dir, { shardSize: 4 });
    const feats = ref64.randomNd([13, 1, 2, 2], 3);
    for (let s = 0; s < 13; s += 5) {
      const n = Math.min(5, 13 - s);
      const f = tf.tensor4d(Float32Array.from(feats.data.slice(s * 4, (s + n) * 4)), [n, 1, 2, 2]);
      await writer.add(f);
      f.dispose();
    }
    await writer.close();
    const cache = await FeatureCache.open(dir);
    const e0 = cache.epochOrder(0, { seed: 5, window: 2 });
    expect([...e0].sort((a, b) => a - b)).toEqual(Array.from({ length: 13 }, (_, i) => i));
    expect([...cache.epochOrder(0, { seed: 5, window: 2 })]).toEqual([...e0]);
    expect([...cache.epochOrder(1, { seed: 5, window: 2 })]).not.toEqual([...e0]);
    expect([...cache.epochOrder(0, { shuffle: false })]).toEqual(Array.from({ length: 13 }, (_, i) => i));
    const src = cache.dataSource({ batchSize: 4, seed: 5, window: 2 });
    expect(src.batchesPerEpoch).toBe(3);
    const b = await expectNoLeaks(() => src.batch(0, 1));
    expect(b.labels).toBeUndefined();
    // F16 storage: values come back rounded to half precision
    await expectClose(b.features, Array.from(e0.subarray(4, 8)).flatMap((r) => Array.from(feats.data.slice(r * 4, r * 4 + 4))), 1e-3, 'batch 1 of epoch 0');
    b.features.dispose();
    let n = 0;
    for await (const x of cache.batches({ batchSize: 5 })) {
      n += x.features.shape[0];
      x.features.dispose();
    }
    expect(n).toBe(13);
  });

  it('refuses an unfinished cache and an existing one without overwrite', async () => {
    const dir = await tmp();
    const w = await FeatureCacheWriter.create(dir, { shardSize: 2 });
    const f = tf.zeros([3, 1, 1, 4]);
    await w.add(f, { labels: [1, 2, 3] });
    await expect(FeatureCache.open(dir)).rejects.toThrow(/index/); // shard 0 written, no index yet
    await expect(w.add(f)).rejects.toThrow(/labels/);
    await w.close();
    f.dispose();
    await expect(FeatureCacheWriter.create(dir)).rejects.toThrow(ConfigError);
    await FeatureCacheWriter.create(dir, { overwrite: true });
    expect(await readdir(dir)).toEqual([]);
  });
});

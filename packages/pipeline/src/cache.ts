// Resumable on-disk caches in @fae/decoders' FeatureCache layout (so FeatureCache.open() and its
// position-addressed dataSource() stream them to the trainers batch by batch):
//
//   <dir>/shard-00000.safetensors   features [n, h, w, D] (latents for a latent cache), labels [n], images [n, H, W, 3] (U8)
//   <dir>/progress.json             while writing: shards done, items done, what is being cached (meta)
//   <dir>/index.json                last: the finished cache (FeatureCache's index)
//
// A cache is built in one pass over an unshuffled source; after every full shard progress.json is
// rewritten (atomically), so an interrupted build resumes after its last shard. A finished cache
// whose meta matches is reused as it is; one with other meta is rebuilt.
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError, writeSafetensorsFile, type TensorToWrite } from '@fae/core';
import { FEATURE_CACHE_FORMAT, FEATURE_CACHE_INDEX, FeatureCache, type FeatureCacheIndex } from '@fae/decoders';
import { joinPath } from './components.js';
import { nodeFsPromises, readJsonOrNull, sameJson, writeJsonAtomic } from './node-fs.js';

export const CACHE_PROGRESS = 'progress.json';

export interface CacheRows {
  /** [B, h, w, D] (taken: disposed by the writer). */
  features: tf.Tensor;
  labels: ArrayLike<number>;
  /** [B, H, W, 3] in [0, 1] (taken), when images are kept. */
  images?: tf.Tensor;
}

export interface BuildCacheOptions {
  shardSize: number;
  dtype: 'F16' | 'F32';
  /** What the cache holds (encoder, dataset, recipe): a finished cache is reused only when it matches. */
  meta: Record<string, unknown>;
  /** Total items, for progress. */
  total: number;
  onProgress?: (done: number, total: number) => void;
}

interface Progress {
  meta: Record<string, unknown>;
  done: number;
  shards: FeatureCacheIndex['shards'];
  featureShape: [number, number, number] | null;
  imageShape: [number, number, number] | null;
}

const shardName = (i: number) => `shard-${String(i).padStart(5, '0')}.safetensors`;

/**
 * Builds (or resumes, or reuses) the cache in `dir`. `rows(skip)` yields the source's rows from item
 * `skip` on, in a fixed order. Returns the opened cache.
 */
export async function buildCache(dir: string, rows: (skip: number) => AsyncIterable<CacheRows>, o: BuildCacheOptions): Promise<FeatureCache> {
  const fs = await nodeFsPromises(dir);
  await fs.mkdir(dir, { recursive: true });
  const index = await readJsonOrNull<FeatureCacheIndex>(joinPath(dir, FEATURE_CACHE_INDEX));
  if (index && sameJson(index.meta, o.meta)) return FeatureCache.open(dir);
  let p = await readJsonOrNull<Progress>(joinPath(dir, CACHE_PROGRESS));
  if (index || !p || !sameJson(p.meta, o.meta)) {
    for (const f of await fs.readdir(dir)) if (f === FEATURE_CACHE_INDEX || f === CACHE_PROGRESS || f.startsWith('shard-')) await fs.rm(joinPath(dir, f), { force: true });
    p = { meta: o.meta, done: 0, shards: [], featureShape: null, imageShape: null };
  }
  const progress = p;
  let feats: Float32Array[] = [];
  let labels: number[] = [];
  let images: Uint8Array[] = [];
  const flush = async () => {
    const n = feats.length;
    if (!n) return;
    const [h, w, d] = progress.featureShape!;
    const f = new Float32Array(n * h * w * d);
    feats.forEach((x, i) => f.set(x, i * x.length));
    const tensors: Record<string, TensorToWrite> = { features: { dtype: o.dtype, shape: [n, h, w, d], data: f }, labels: { dtype: 'I32', shape: [n], data: Int32Array.from(labels) } };
    if (progress.imageShape) {
      const per = progress.imageShape.reduce((a, b) => a * b, 1);
      const im = new Uint8Array(n * per);
      images.forEach((x, i) => im.set(x, i * per));
      tensors.images = { dtype: 'U8', shape: [n, ...progress.imageShape], data: im };
    }
    const file = shardName(progress.shards.length);
    await writeSafetensorsFile(joinPath(dir, file), tensors, { format: FEATURE_CACHE_FORMAT });
    progress.shards.push({ file, count: n });
    progress.done += n;
    await writeJsonAtomic(joinPath(dir, CACHE_PROGRESS), progress);
    feats = [];
    labels = [];
    images = [];
  };
  o.onProgress?.(progress.done, o.total);
  for await (const r of rows(progress.done)) {
    try {
      if (r.features.rank !== 4) throw new ShapeError('cache features', '[B, h, w, D]', `[${r.features.shape}]`);
      const [b, h, w, d] = r.features.shape;
      progress.featureShape ??= [h, w, d];
      if (progress.featureShape.join() !== [h, w, d].join()) throw new ShapeError('cache features', `[B, ${progress.featureShape}]`, `[${r.features.shape}]`);
      if (r.labels.length !== b) throw new ShapeError('cache labels', `${b}`, `${r.labels.length}`);
      const data = (await r.features.data()) as Float32Array;
      let u8: Uint8Array | null = null;
      if (r.images) {
        const [, ih, iw, ic] = r.images.shape;
        progress.imageShape ??= [ih, iw, ic];
        const q = tf.tidy(() => tf.cast(tf.round(tf.mul(tf.clipByValue(r.images!, 0, 1), 255)), 'int32'));
        u8 = Uint8Array.from(await q.data());
        q.dispose();
      } else if (progress.imageShape) throw new ConfigError(dir, 'every batch must have images, or none');
      const per = h * w * d;
      const perImg = progress.imageShape ? progress.imageShape.reduce((a, c) => a * c, 1) : 0;
      for (let i = 0; i < b; i++) {
        feats.push(data.slice(i * per, (i + 1) * per));
        labels.push(Number(r.labels[i]));
        if (u8) images.push(u8.slice(i * perImg, (i + 1) * perImg));
        if (feats.length === o.shardSize) await flush();
      }
    } finally {
      tf.dispose([r.features, ...(r.images ? [r.images] : [])]);
    }
    o.onProgress?.(progress.done + feats.length, o.total);
  }
  await flush();
  if (!progress.featureShape) throw new ConfigError(dir, 'the source yielded no rows');
  const finished: FeatureCacheIndex = {
    format: FEATURE_CACHE_FORMAT, version: 1, featureShape: progress.featureShape, dtype: o.dtype, imageShape: progress.imageShape,
    hasLabels: true, count: progress.done, shards: progress.shards, meta: o.meta,
  };
  await writeJsonAtomic(joinPath(dir, FEATURE_CACHE_INDEX), finished);
  await fs.rm(joinPath(dir, CACHE_PROGRESS), { force: true });
  return FeatureCache.open(dir);
}

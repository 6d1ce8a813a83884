// Sharding of per-item work (sampling, feature / latent caching, evaluation statistics) over processes,
// GPUs or cluster tasks, with outputs that merge to exactly the unsharded result.
//
//   items 0..total-1  --shardRange(total, {index: i, count: n}, align)-->  one contiguous block per shard
//   shard i writes    <out>/<kind>-<i>-of-<n>.<data>  then  <out>/<kind>-<i>-of-<n>.json (its manifest, last)
//   merge             checks every manifest (same n, same meta, blocks that tile 0..total-1) then joins them
//
// Blocks are aligned to the batch size, so each shard sees the very batches an unsharded run sees (batch
// composition never changes a number, whatever the backend's kernels do). Sampling draws each batch with a
// seed derived from (seed, global index of its first item): with batch size 1 (the default) that is one
// seed per item, and a sample depends only on (seed, its index, its label).
//
// Idempotent: a shard whose manifest exists with the same meta (and its data file) is skipped; a crashed
// shard (no manifest) reruns alone; every file is written atomically (temp then rename).
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, FaeError, openSafetensorsFile, shardRange, writeSafetensorsFile, type ShardSpec, type TensorToWrite } from '@fae/core';
import { FEATURE_CACHE_FORMAT, FEATURE_CACHE_INDEX, FeatureCache, type FeatureCacheIndex } from '@fae/decoders';
import { FeatureStatistics, loadStatisticsFile, mergeStatisticsFiles, saveStatisticsFile, type StatisticsFile } from '@fae/eval';
import { buildCache } from './cache.js';
import { joinPath } from './components.js';
import { imageBatches, subsetItems, type ImageDataset } from './datasets/dataset.js';
import type { FaePipeline, GenerateOptions } from './fae-pipeline.js';
import { nodeFsPromises, readJsonOrNull, sameJson, writeJsonAtomic } from './node-fs.js';
import { toEncoderPixels } from './preprocess.js';

export type ShardKind = 'samples' | 'cache' | 'stats';

/** A merge met missing, unfinished or mismatched shards (code 'SHARD_MERGE'). */
export class ShardMergeError extends FaeError {
  constructor(readonly dir: string, problem: string) {
    super('SHARD_MERGE', `${dir}: ${problem}`);
  }
}

/** What a finished shard leaves next to its data: the merge reads only these. */
export interface ShardManifest {
  format: 'fae-shard';
  version: 1;
  kind: ShardKind;
  shard: ShardSpec;
  /** Items of the whole job, and this shard's block [start, end). */
  total: number;
  range: [number, number];
  /** Everything that must agree between shards (models, options, seed, dataset). */
  meta: Record<string, unknown>;
  /** Data file (or folder) relative to the output folder. */
  data: string;
  seconds: number;
}

const UINT32 = 2 ** 32;

// parseShard, shardRange and ShardSpec live in @fae/core (the eval CLI shards too); re-exported here.
export { parseShard, shardRange, type ShardSpec } from '@fae/core';

/** Labels of a class-balanced job: item k has class k mod numClasses (every class within one item of total / numClasses). */
export function classBalancedLabels(total: number, numClasses: number): Int32Array {
  if (!Number.isInteger(numClasses) || numClasses < 1) throw new ConfigError('classBalancedLabels', `numClasses must be >= 1, got ${numClasses}`);
  return Int32Array.from({ length: total }, (_, k) => k % numClasses);
}

/** The seed of item `index` of a job seeded with `seed`: a 31-bit hash of both (splitmix32-style mixing). */
export function itemSeed(seed: number, index: number): number {
  let h = (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul((index >>> 0) + 0x7f4a7c15, 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x21f0aaad) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x735a2d97) >>> 0;
  h = (h ^ (h >>> 15)) >>> 0;
  return (h + Math.floor(index / UINT32)) % 2 ** 31;
}

export const shardStem = (kind: ShardKind, s: ShardSpec) => `${kind}-${String(s.index).padStart(5, '0')}-of-${String(s.count).padStart(5, '0')}`;


export interface ShardRunResult {
  manifest: ShardManifest;
  /** True when a finished shard with the same meta was found and nothing ran. */
  skipped: boolean;
}

/** Runs `work` for a shard unless its manifest is already there with the same meta; writes the manifest last. */
async function runShard(dir: string, kind: ShardKind, shard: ShardSpec, total: number, align: number, meta: Record<string, unknown>, data: string, work: (range: [number, number]) => Promise<void>): Promise<ShardRunResult> {
  const fs = await nodeFsPromises(dir);
  await fs.mkdir(dir, { recursive: true });
  const path = joinPath(dir, `${shardStem(kind, shard)}.json`);
  const old = await readJsonOrNull<ShardManifest>(path);
  const dataThere = async (m: ShardManifest) => fs.stat(joinPath(dir, m.data)).then(() => true, () => false);
  // finished with the same options, and its data still there (a deleted data file reruns the shard)
  if (old && old.kind === kind && sameJson(old.meta, meta) && old.total === total && (await dataThere(old))) return { manifest: old, skipped: true };
  if (old) await fs.rm(path, { force: true });
  const range = shardRange(total, shard, align);
  const t0 = Date.now();
  await work(range);
  const manifest: ShardManifest = { format: 'fae-shard', version: 1, kind, shard, total, range, meta, data, seconds: (Date.now() - t0) / 1000 };
  await writeJsonAtomic(path, manifest);
  return { manifest, skipped: false };
}

/** Every shard manifest of `kind` in `dir`, checked to tile 0..total-1 with one count and one meta. */
export async function readShardManifests(dir: string, kind: ShardKind): Promise<ShardManifest[]> {
  const fs = await nodeFsPromises(dir);
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    throw new ShardMergeError(dir, 'no such folder');
  }
  const re = new RegExp(`^${kind}-(\\d+)-of-(\\d+)\\.json$`);
  const found = names.filter((f) => re.test(f)).sort();
  if (!found.length) throw new ShardMergeError(dir, `no finished ${kind} shards (no ${kind}-i-of-n.json manifests)`);
  const ms: ShardManifest[] = [];
  for (const f of found) {
    const m = await readJsonOrNull<ShardManifest>(joinPath(dir, f));
    if (!m || m.format !== 'fae-shard' || m.kind !== kind) throw new ShardMergeError(dir, `${f} is not a ${kind} shard manifest`);
    ms.push(m);
  }
  const n = ms[0].shard.count;
  for (const m of ms) {
    if (m.shard.count !== n) throw new ShardMergeError(dir, `shards of different counts: ${shardStem(kind, ms[0].shard)} and ${shardStem(kind, m.shard)} (clear the folder of the old run)`);
    if (!sameJson(m.meta, ms[0].meta) || m.total !== ms[0].total) throw new ShardMergeError(dir, `${shardStem(kind, m.shard)} was made with other options than ${shardStem(kind, ms[0].shard)}: ${JSON.stringify(m.meta)} vs ${JSON.stringify(ms[0].meta)}`);
  }
  const missing = Array.from({ length: n }, (_, i) => i).filter((i) => !ms.some((m) => m.shard.index === i));
  if (missing.length) throw new ShardMergeError(dir, `incomplete: ${missing.length} of ${n} shards are not finished (indices ${missing.slice(0, 20).join(', ')}${missing.length > 20 ? ', ...' : ''}); rerun them with --shard i/${n}`);
  ms.sort((a, b) => a.shard.index - b.shard.index);
  let at = 0;
  for (const m of ms) {
    if (m.range[0] !== at) throw new ShardMergeError(dir, `${shardStem(kind, m.shard)} covers items [${m.range}] but the previous shard ended at ${at}`);
    at = m.range[1];
  }
  if (at !== ms[0].total) throw new ShardMergeError(dir, `the shards cover ${at} of ${ms[0].total} items`);
  return ms;
}

// ---------------------------------------------------------------------------------------------------
// Sampling

export interface SampleShardOptions extends Omit<GenerateOptions, 'labels' | 'seed' | 'onProgress'> {
  shard: ShardSpec;
  /** Samples of the whole job. */
  total: number;
  /** Labels of the whole job (default: classBalancedLabels(total, numClasses of the generator)). */
  labels?: ArrayLike<number>;
  seed?: number;
  /** Items drawn at once (default 1: one seed per item). Sharded and unsharded runs match for the same batch size. */
  batchSize?: number;
  /** Anything else the shards must agree on (e.g. the models source). */
  meta?: Record<string, unknown>;
  onProgress?: (done: number, total: number) => void;
}

/**
 * Draws this shard's samples into `<dir>/samples-i-of-n.safetensors`: images U8 [m, H, W, 3], latents
 * F32 [m, h, w, c], labels I32 [m], indices I32 [m] (global item index).
 */
export async function sampleShard(pipe: FaePipeline, dir: string, o: SampleShardOptions): Promise<ShardRunResult> {
  const g = pipe.generator(o.generator);
  const labels = o.labels ? Int32Array.from(o.labels) : classBalancedLabels(o.total, Math.max(1, g.numClasses));
  if (labels.length !== o.total) throw new ConfigError('sampleShard', `labels has ${labels.length} entries for ${o.total} samples`);
  const bs = o.batchSize ?? 1;
  const seed = o.seed ?? 0;
  const meta = { ...(o.meta ?? {}), generator: o.generator ?? pipe.generatorNames[0], sampler: o.sampler ?? null, steps: o.steps ?? null, guidance: o.guidance ?? null, shift: o.shift ?? null, seed, batchSize: bs, labelsHash: itemSeed(hashInts(labels), labels.length) };
  const stem = shardStem('samples', o.shard);
  return runShard(dir, 'samples', o.shard, o.total, bs, meta, `${stem}.safetensors`, async ([start, end]) => {
    const m = end - start;
    const latents: Float32Array[] = [];
    const images: Uint8Array[] = [];
    let lshape: number[] = [];
    let ishape: number[] = [];
    o.onProgress?.(0, m);
    for (let b = start; b < end; b += bs) {
      const batchLabels = labels.subarray(b, Math.min(end, b + bs));
      const z = await pipe.generateLatents({ ...o, labels: batchLabels, seed: itemSeed(seed, b), onProgress: undefined });
      try {
        const im = tf.tidy(() => tf.cast(tf.round(tf.mul(pipe.decode(z), 255)), 'int32'));
        lshape = z.shape.slice(1);
        ishape = im.shape.slice(1);
        latents.push(Float32Array.from(await z.data()));
        images.push(Uint8Array.from(await im.data()));
        im.dispose();
      } finally {
        z.dispose();
      }
      o.onProgress?.(Math.min(end, b + bs) - start, m);
    }
    const tensors: Record<string, TensorToWrite> = {
      labels: { dtype: 'I32', shape: [m], data: labels.slice(start, end) },
      indices: { dtype: 'I32', shape: [m], data: Int32Array.from({ length: m }, (_, k) => start + k) },
    };
    if (m) {
      tensors.latents = { dtype: 'F32', shape: [m, ...lshape], data: concat(latents, Float32Array) };
      tensors.images = { dtype: 'U8', shape: [m, ...ishape], data: concat(images, Uint8Array) };
    }
    await writeSafetensorsFile(joinPath(dir, `${stem}.safetensors`), tensors, { format: 'fae-samples-shard' });
  });
}

function hashInts(a: Int32Array): number {
  let h = 0;
  for (let i = 0; i < a.length; i++) h = itemSeed(h, a[i] + i * 131);
  return h;
}

function concat<T extends Float32Array | Uint8Array>(parts: T[], C: { new (n: number): T }): T {
  const out = new C(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export interface SamplesIndex {
  format: 'fae-samples';
  version: 1;
  count: number;
  file: string;
  shards: number;
  meta: Record<string, unknown>;
}

/** Joins finished sample shards into `<dir>/samples.safetensors` (+ samples.json), in item order. */
export async function mergeSampleShards(dir: string): Promise<SamplesIndex> {
  const ms = await readShardManifests(dir, 'samples');
  const parts: Record<string, Array<{ shape: number[]; data: Float32Array | Uint8Array | Int32Array }>> = { latents: [], images: [], labels: [], indices: [] };
  for (const m of ms) {
    if (m.range[0] === m.range[1]) continue;
    const store = await openSafetensorsFile(joinPath(dir, m.data));
    try {
      for (const key of Object.keys(parts)) {
        const info = store.info(key);
        if (!info) throw new ShardMergeError(dir, `${m.data} has no '${key}' tensor`);
        if (info.shape[0] !== m.range[1] - m.range[0]) throw new ShardMergeError(dir, `${m.data}: '${key}' has ${info.shape[0]} rows, its manifest says ${m.range[1] - m.range[0]}`);
        parts[key].push({ shape: info.shape, data: (await store.read(key)) as Float32Array });
      }
    } finally {
      await store.close();
    }
  }
  const total = ms[0].total;
  const tensors: Record<string, TensorToWrite> = {};
  const dtypes = { latents: 'F32', images: 'U8', labels: 'I32', indices: 'I32' } as const;
  const ctor = { latents: Float32Array, images: Uint8Array, labels: Int32Array, indices: Int32Array } as const;
  for (const [key, list] of Object.entries(parts) as Array<[keyof typeof dtypes, (typeof parts)['latents']]>) {
    const tail = list[0].shape.slice(1);
    if (list.some((p) => p.shape.slice(1).join() !== tail.join())) throw new ShardMergeError(dir, `shards disagree on the shape of '${key}'`);
    tensors[key] = { dtype: dtypes[key], shape: [total, ...tail], data: concat(list.map((p) => p.data) as never[], ctor[key] as never) };
  }
  await writeSafetensorsFile(joinPath(dir, 'samples.safetensors'), tensors, { format: 'fae-samples' });
  const index: SamplesIndex = { format: 'fae-samples', version: 1, count: total, file: 'samples.safetensors', shards: ms.length, meta: ms[0].meta };
  await writeJsonAtomic(joinPath(dir, 'samples.json'), index);
  return index;
}

// ---------------------------------------------------------------------------------------------------
// Feature / latent caches

export interface CacheShardOptions {
  shard: ShardSpec;
  /** 'features' (frozen encoder) or 'latents' (normalised adapter means). */
  what?: 'features' | 'latents';
  /** Items of the dataset used (default all). */
  maxItems?: number;
  batchSize?: number;
  shardSize?: number;
  dtype?: 'F16' | 'F32';
  keepImages?: boolean;
  meta?: Record<string, unknown>;
  onProgress?: (done: number, total: number) => void;
}

/**
 * Caches this shard's block of the dataset (unshuffled order) with buildCache into
 * `<dir>/cache-i-of-n/` (resumable inside the shard too), then writes its manifest.
 */
export async function cacheShard(pipe: FaePipeline, dataset: ImageDataset, dir: string, o: CacheShardOptions): Promise<ShardRunResult> {
  const what = o.what ?? 'features';
  const bs = o.batchSize ?? 32;
  const total = Math.min(o.maxItems ?? dataset.size, dataset.size);
  const p = pipe.preprocessing;
  const meta = { ...(o.meta ?? {}), what, dataset: dataset.name, size: dataset.size, total, batchSize: bs, shardSize: o.shardSize ?? 1024, dtype: o.dtype ?? 'F32', images: !!o.keepImages, preprocessing: p };
  const stem = shardStem('cache', o.shard);
  return runShard(dir, 'cache', o.shard, total, bs, meta, stem, async ([start, end]) => {
    const part = subsetItems(dataset, Int32Array.from({ length: end - start }, (_, k) => start + k), `${dataset.name}[${start}:${end}]`);
    const encode = (images: tf.Tensor) => tf.tidy(() => (what === 'features' ? pipe.features(images) : pipe.encode(images)));
    await buildCache(joinPath(dir, stem), (skip) => (async function* () {
      for await (const b of imageBatches(part, { batchSize: bs, shuffle: false, skip, transform: { imageSize: p.imageSize, crop: p.crop } })) {
        const features = encode(b.images);
        if (o.keepImages) yield { features, labels: b.labels, images: b.images };
        else {
          b.images.dispose();
          yield { features, labels: b.labels };
        }
      }
    })(), { shardSize: o.shardSize ?? 1024, dtype: o.dtype ?? 'F32', total: end - start, meta: { ...meta, range: [start, end] }, onProgress: o.onProgress });
  });
}

/** One FeatureCache index over every finished cache shard (`<dir>/index.json`; no data is copied). */
export async function mergeCacheShards(dir: string): Promise<FeatureCache> {
  const ms = await readShardManifests(dir, 'cache');
  const parts: FeatureCacheIndex[] = [];
  for (const m of ms) {
    const idx = await readJsonOrNull<FeatureCacheIndex>(joinPath(joinPath(dir, m.data), FEATURE_CACHE_INDEX));
    if (!idx) throw new ShardMergeError(dir, `${m.data}/${FEATURE_CACHE_INDEX} is missing: the shard did not finish`);
    if (idx.count !== m.range[1] - m.range[0]) throw new ShardMergeError(dir, `${m.data} holds ${idx.count} items, its manifest says ${m.range[1] - m.range[0]}`);
    parts.push(idx);
  }
  const first = parts[0];
  for (const [i, q] of parts.entries()) {
    if (q.featureShape.join() !== first.featureShape.join() || q.dtype !== first.dtype || JSON.stringify(q.imageShape) !== JSON.stringify(first.imageShape)) {
      throw new ShardMergeError(dir, `${ms[i].data} holds [${q.featureShape}] ${q.dtype}, ${ms[0].data} [${first.featureShape}] ${first.dtype}`);
    }
  }
  const index: FeatureCacheIndex = {
    format: FEATURE_CACHE_FORMAT, version: 1, featureShape: first.featureShape, dtype: first.dtype, imageShape: first.imageShape, hasLabels: first.hasLabels,
    count: ms[0].total, shards: parts.flatMap((q, i) => q.shards.map((s) => ({ ...s, file: `${ms[i].data}/${s.file}` }))), meta: { ...ms[0].meta, shards: ms.length },
  };
  await writeJsonAtomic(joinPath(dir, FEATURE_CACHE_INDEX), index);
  return FeatureCache.open(dir);
}

// ---------------------------------------------------------------------------------------------------
// Evaluation statistics (the encoder-FD statistics of evaluatePipeline: mean-pooled encoder features)

export interface StatsShardOptions {
  shard: ShardSpec;
  maxItems?: number;
  batchSize?: number;
  meta?: Record<string, unknown>;
  onProgress?: (done: number, total: number) => void;
}

/** Float64 streaming statistics of this shard's mean-pooled encoder features -> `<dir>/stats-i-of-n.npz` (with n, mergeable). */
export async function statisticsShard(pipe: FaePipeline, dataset: ImageDataset, dir: string, o: StatsShardOptions): Promise<ShardRunResult> {
  const bs = o.batchSize ?? 32;
  const total = Math.min(o.maxItems ?? dataset.size, dataset.size);
  const p = pipe.preprocessing;
  const meta = { ...(o.meta ?? {}), what: 'encoder-pooled-features', dataset: dataset.name, size: dataset.size, total, batchSize: bs, preprocessing: p };
  const stem = shardStem('stats', o.shard);
  return runShard(dir, 'stats', o.shard, total, bs, meta, `${stem}.npz`, async ([start, end]) => {
    const part = subsetItems(dataset, Int32Array.from({ length: end - start }, (_, k) => start + k));
    let stats: FeatureStatistics | null = null;
    let done = 0;
    for await (const b of imageBatches(part, { batchSize: bs, shuffle: false, transform: { imageSize: p.imageSize, crop: p.crop } })) {
      const pooled = tf.tidy(() => tf.mean(pipe.features(b.images), [1, 2]) as tf.Tensor2D); // [B, D]
      b.images.dispose();
      stats ??= new FeatureStatistics(pooled.shape[1]);
      await stats.addTensor(pooled);
      pooled.dispose();
      done += b.labels.length;
      o.onProgress?.(done, end - start);
    }
    if (!stats || done < 2) throw new ConfigError('statisticsShard', `shard ${o.shard.index}/${o.shard.count} has ${done} items; statistics need >= 2 per shard (use fewer shards)`);
    const gaussian = stats.toGaussian(); // folds the pending rows in: count is final after this
    await saveStatisticsFile(joinPath(dir, `${stem}.npz`), { pool: { ...gaussian, count: stats.count } });
  });
}

/** Merges finished statistics shards (Chan's exact update, via @fae/eval's mergeStatisticsFiles) into `<dir>/stats.npz`. */
export async function mergeStatisticsShards(dir: string): Promise<StatisticsFile> {
  const ms = await readShardManifests(dir, 'stats');
  const files = await Promise.all(ms.map((m) => loadStatisticsFile(joinPath(dir, m.data))));
  files.forEach((f, i) => {
    const want = ms[i].range[1] - ms[i].range[0];
    if (f.pool.count !== want) throw new ShardMergeError(dir, `${ms[i].data} holds ${f.pool.count} samples, its manifest says ${want}`);
  });
  const merged = mergeStatisticsFiles(files);
  await saveStatisticsFile(joinPath(dir, 'stats.npz'), merged);
  return merged;
}

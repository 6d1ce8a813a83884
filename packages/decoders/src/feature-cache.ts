// Feature cache: run the frozen encoder once over a dataset and keep its features on disk, so the
// training stages read them instead of re-running the encoder (Node).
//
//   <dir>/index.json                 { format, version, featureShape [h,w,D], dtype, count, shards, ... }
//   <dir>/shard-00000.safetensors    features [n,h,w,D] (F16 or F32), labels [n] (I32), images [n,H,W,C] (U8)
//
// Shards are written atomically one by one; index.json is written last, so a cache without it is
// incomplete and refused. Reading is position-addressed (core's DataSource): batch (epoch, i) is a
// pure function of the seed, so a resumed run sees the very batches an uninterrupted run would.
// Shuffling is windowed: the shard order is permuted per epoch, then rows are permuted within
// windows of `window` shards, so only ~2 windows of shards are held in memory.
import * as tf from '@tensorflow/tfjs-core';
import {
  ConfigError, Rng, ShapeError, WeightsFormatError, nodeFs, openSafetensorsFile, readFloat32, writeFileAtomic, writeSafetensorsFile,
  type DataSource, type TensorToWrite,
} from '@fae/core';

export const FEATURE_CACHE_FORMAT = 'fae-feature-cache';
export const FEATURE_CACHE_INDEX = 'index.json';

export interface FeatureCacheIndex {
  format: typeof FEATURE_CACHE_FORMAT;
  version: 1;
  /** [h, w, D] of one sample. */
  featureShape: [number, number, number];
  dtype: 'F16' | 'F32';
  /** [H, W, C] of the stored images (uint8), when images were kept. */
  imageShape: [number, number, number] | null;
  hasLabels: boolean;
  count: number;
  shards: Array<{ file: string; count: number }>;
  /** Free-form description (encoder id, preprocessing, dataset). */
  meta: Record<string, unknown>;
}

export interface FeatureCacheWriterOptions {
  /** Samples per shard (default 256: ~200 MB of F16 DINOv2-g features). */
  shardSize?: number;
  /** Storage type of the features (default 'F16'; features are float32 again when read). */
  dtype?: 'F16' | 'F32';
  meta?: Record<string, unknown>;
  /** Replace an existing cache in `dir` (default false: refuse). */
  overwrite?: boolean;
}

/** Anything with `features(pixels) -> [B, h, w, D]` (the @fae/encoders FeatureEncoder fits). */
export interface FeatureExtractor {
  features(pixels: tf.Tensor): tf.Tensor | Promise<tf.Tensor>;
}

export interface ImageBatch {
  /** Pixels as the extractor takes them, [B, H, W, 3] (NHWC, in [0, 1] for stored images). */
  images: tf.Tensor;
  labels?: ArrayLike<number> | tf.Tensor;
}

export interface FeatureBatch {
  features: tf.Tensor4D;
  labels?: tf.Tensor1D;
  /** float32 in [0, 1] (stored as uint8). */
  images?: tf.Tensor4D;
}

const shardName = (i: number) => `shard-${String(i).padStart(5, '0')}.safetensors`;
const join = (dir: string, file: string) => `${dir.replace(/[\\/]+$/, '')}/${file}`;

// ------------------------------------------------------------------------------------------------
// Writing
// ------------------------------------------------------------------------------------------------
export class FeatureCacheWriter {
  private feats: Float32Array[] = [];
  private labels: number[] = [];
  private images: Uint8Array[] = [];
  private pending = 0;
  private readonly shards: FeatureCacheIndex['shards'] = [];
  private featureShape: [number, number, number] | null = null;
  private imageShape: [number, number, number] | null = null;
  private hasLabels: boolean | null = null;
  private closed = false;

  private constructor(readonly dir: string, private readonly opts: Required<Omit<FeatureCacheWriterOptions, 'overwrite'>>) {}

  static async create(dir: string, opts: FeatureCacheWriterOptions = {}): Promise<FeatureCacheWriter> {
    const fs = await nodeFs(dir);
    await fs.mkdir(dir, { recursive: true });
    const existing = await fs.readdir(dir);
    if (existing.some((f) => f === FEATURE_CACHE_INDEX || f.startsWith('shard-'))) {
      if (!opts.overwrite) throw new ConfigError(dir, 'already holds a feature cache (pass overwrite: true to replace it)');
      for (const f of existing) if (f === FEATURE_CACHE_INDEX || f.startsWith('shard-')) await fs.rm(join(dir, f), { force: true });
    }
    const shardSize = opts.shardSize ?? 256;
    if (!Number.isInteger(shardSize) || shardSize < 1) throw new ConfigError('FeatureCacheWriter', `shardSize must be a positive integer, got ${shardSize}`);
    return new FeatureCacheWriter(dir, { shardSize, dtype: opts.dtype ?? 'F16', meta: opts.meta ?? {} });
  }

  /** Appends a batch: features [B,h,w,D], optional labels [B] and images [B,H,W,C] in [0, 1]. */
  async add(features: tf.Tensor, extra: { labels?: ArrayLike<number> | tf.Tensor; images?: tf.Tensor } = {}): Promise<void> {
    if (this.closed) throw new ConfigError(this.dir, 'add() after close()');
    if (features.rank !== 4) throw new ShapeError('features', '[B, h, w, D] (NHWC)', `[${features.shape}]`);
    const [b, h, w, d] = features.shape;
    if (!this.featureShape) this.featureShape = [h, w, d];
    else if (this.featureShape.join() !== [h, w, d].join()) throw new ShapeError('features', `[B, ${this.featureShape}] like the first batch`, `[${features.shape}]`);
    const hasLabels = extra.labels !== undefined;
    if (this.hasLabels === null) this.hasLabels = hasLabels;
    else if (this.hasLabels !== hasLabels) throw new ConfigError(this.dir, 'every batch must have labels, or none');
    const labels = extra.labels instanceof tf.Tensor ? await extra.labels.data() : extra.labels;
    if (labels && labels.length !== b) throw new ShapeError('labels', `${b} labels`, `${labels.length}`);
    let imgs: Uint8Array | null = null;
    if (extra.images || this.imageShape) {
      if (!extra.images) throw new ConfigError(this.dir, 'every batch must have images, or none');
      const [ib, ih, iw, ic] = extra.images.shape;
      if (extra.images.rank !== 4 || ib !== b) throw new ShapeError('images', `[${b}, H, W, C]`, `[${extra.images.shape}]`);
      if (!this.imageShape) this.imageShape = [ih, iw, ic];
      else if (this.imageShape.join() !== [ih, iw, ic].join()) throw new ShapeError('images', `[B, ${this.imageShape}]`, `[${extra.images.shape}]`);
      const u8 = tf.tidy(() => tf.cast(tf.round(tf.mul(tf.clipByValue(extra.images!, 0, 1), 255)), 'int32'));
      imgs = Uint8Array.from(await u8.data());
      u8.dispose();
    }
    const data = (await features.data()) as Float32Array;
    const per = h * w * d;
    const perImg = this.imageShape ? this.imageShape[0] * this.imageShape[1] * this.imageShape[2] : 0;
    for (let i = 0; i < b; i++) {
      this.feats.push(data.slice(i * per, (i + 1) * per));
      if (labels) this.labels.push(Number(labels[i]));
      if (imgs) this.images.push(imgs.slice(i * perImg, (i + 1) * perImg));
      if (++this.pending === this.opts.shardSize) await this.flush();
    }
  }

  private async flush(): Promise<void> {
    const n = this.pending;
    if (!n) return;
    const [h, w, d] = this.featureShape!;
    const feats = new Float32Array(n * h * w * d);
    this.feats.forEach((f, i) => feats.set(f, i * f.length));
    const tensors: Record<string, TensorToWrite> = { features: { dtype: this.opts.dtype, shape: [n, h, w, d], data: feats } };
    if (this.hasLabels) tensors.labels = { dtype: 'I32', shape: [n], data: Int32Array.from(this.labels) };
    if (this.imageShape) {
      const per = this.imageShape[0] * this.imageShape[1] * this.imageShape[2];
      const imgs = new Uint8Array(n * per);
      this.images.forEach((im, i) => imgs.set(im, i * per));
      tensors.images = { dtype: 'U8', shape: [n, ...this.imageShape], data: imgs };
    }
    const file = shardName(this.shards.length);
    await writeSafetensorsFile(join(this.dir, file), tensors, { format: FEATURE_CACHE_FORMAT });
    this.shards.push({ file, count: n });
    this.feats = [];
    this.labels = [];
    this.images = [];
    this.pending = 0;
  }

  /** Writes the last shard and index.json; returns the index. */
  async close(): Promise<FeatureCacheIndex> {
    if (this.closed) throw new ConfigError(this.dir, 'close() called twice');
    await this.flush();
    this.closed = true;
    if (!this.featureShape) throw new ConfigError(this.dir, 'no features were added');
    const index: FeatureCacheIndex = {
      format: FEATURE_CACHE_FORMAT, version: 1, featureShape: this.featureShape, dtype: this.opts.dtype, imageShape: this.imageShape,
      hasLabels: !!this.hasLabels, count: this.shards.reduce((s, x) => s + x.count, 0), shards: this.shards, meta: this.opts.meta,
    };
    await writeFileAtomic(join(this.dir, FEATURE_CACHE_INDEX), [new TextEncoder().encode(JSON.stringify(index, null, 2) + '\n')]);
    return index;
  }
}

export interface CacheFeaturesOptions extends FeatureCacheWriterOptions {
  /** Store the images too (uint8), for the pixel-decoder stages (default false). */
  keepImages?: boolean;
  /** Called after each batch with the number of samples written. */
  onProgress?: (written: number) => void;
}

/**
 * Runs `encoder` over `batches` once and writes its features (and labels, and images when asked)
 * to a sharded cache in `dir`. Each batch's tensors are disposed after use.
 */
export async function cacheFeatures(encoder: FeatureExtractor, batches: AsyncIterable<ImageBatch> | Iterable<ImageBatch>, dir: string, opts: CacheFeaturesOptions = {}): Promise<FeatureCacheIndex> {
  const writer = await FeatureCacheWriter.create(dir, opts);
  let written = 0;
  for await (const batch of batches) {
    const feats = await encoder.features(batch.images);
    try {
      await writer.add(feats, { labels: batch.labels, images: opts.keepImages ? batch.images : undefined });
    } finally {
      tf.dispose([feats, batch.images, ...(batch.labels instanceof tf.Tensor ? [batch.labels] : [])]);
    }
    written += feats.shape[0]!;
    opts.onProgress?.(written);
  }
  return writer.close();
}

// ------------------------------------------------------------------------------------------------
// Reading
// ------------------------------------------------------------------------------------------------
interface ShardData {
  features: Float32Array;
  labels: Int32Array | null;
  images: Uint8Array | null;
}

export interface FeatureDataOptions {
  batchSize: number;
  /** Shuffle each epoch (default true). */
  shuffle?: boolean;
  seed?: number;
  /** Shards whose rows are shuffled together (default 4). */
  window?: number;
  /** Drop the last incomplete batch of an epoch (default true). */
  dropLast?: boolean;
  /** Also return the stored images (default: when the cache has them). */
  images?: boolean;
}

export class FeatureCache {
  private readonly offsets: number[] = [];
  private readonly lru = new Map<number, ShardData>();
  private maxShards = 8;

  private constructor(readonly dir: string, readonly index: FeatureCacheIndex) {
    let o = 0;
    for (const s of index.shards) {
      this.offsets.push(o);
      o += s.count;
    }
  }

  /** Opens a finished cache (its index.json must exist). */
  static async open(dir: string): Promise<FeatureCache> {
    const fs = await nodeFs(dir);
    let raw: unknown;
    try {
      raw = JSON.parse(await fs.readFile(join(dir, FEATURE_CACHE_INDEX), 'utf8'));
    } catch (e) {
      throw new ConfigError(join(dir, FEATURE_CACHE_INDEX), `cannot read the feature cache index (incomplete or not a cache?): ${(e as Error).message}`);
    }
    const idx = raw as FeatureCacheIndex;
    if (idx?.format !== FEATURE_CACHE_FORMAT || idx.version !== 1 || !Array.isArray(idx.shards)) {
      throw new ConfigError(join(dir, FEATURE_CACHE_INDEX), `not a ${FEATURE_CACHE_FORMAT} version 1 index`);
    }
    return new FeatureCache(dir, idx);
  }

  get count(): number {
    return this.index.count;
  }

  /** Decoded shard `i` (kept in a small LRU cache). */
  async shard(i: number): Promise<ShardData> {
    const hit = this.lru.get(i);
    if (hit) {
      this.lru.delete(i);
      this.lru.set(i, hit);
      return hit;
    }
    const info = this.index.shards[i];
    if (!info) throw new RangeError(`shard ${i} outside [0, ${this.index.shards.length})`);
    const path = join(this.dir, info.file);
    const store = await openSafetensorsFile(path);
    try {
      const fi = store.info('features');
      const [h, w, d] = this.index.featureShape;
      if (!fi || fi.shape.join() !== [info.count, h, w, d].join()) throw new WeightsFormatError(path, `features should be [${info.count}, ${h}, ${w}, ${d}], found ${fi ? `[${fi.shape}]` : 'none'}`);
      const data: ShardData = {
        features: await readFloat32(store, 'features'),
        labels: this.index.hasLabels ? Int32Array.from(await store.read('labels') as Int32Array) : null,
        images: this.index.imageShape ? (await store.read('images')) as Uint8Array : null,
      };
      this.lru.set(i, data);
      while (this.lru.size > this.maxShards) this.lru.delete(this.lru.keys().next().value!);
      return data;
    } finally {
      await store.close();
    }
  }

  /** The samples with global row ids `rows`, as tensors (features float32; images float32 in [0, 1]). */
  async gather(rows: ArrayLike<number>, opts: { images?: boolean } = {}): Promise<FeatureBatch> {
    const [h, w, d] = this.index.featureShape;
    const per = h * w * d;
    const n = rows.length;
    const wantImages = (opts.images ?? true) && !!this.index.imageShape;
    const perImg = wantImages ? this.index.imageShape!.reduce((a, b) => a * b, 1) : 0;
    const feats = new Float32Array(n * per);
    const labels = this.index.hasLabels ? new Int32Array(n) : null;
    const imgs = wantImages ? new Float32Array(n * perImg) : null;
    for (let i = 0; i < n; i++) {
      const [s, r] = this.locate(rows[i]);
      const sd = await this.shard(s);
      feats.set(sd.features.subarray(r * per, (r + 1) * per), i * per);
      if (labels) labels[i] = sd.labels![r];
      if (imgs) for (let k = 0; k < perImg; k++) imgs[i * perImg + k] = sd.images![r * perImg + k] / 255;
    }
    const out: FeatureBatch = { features: tf.tensor4d(feats, [n, h, w, d]) };
    if (labels) out.labels = tf.tensor1d(labels, 'int32');
    if (imgs) out.images = tf.tensor4d(imgs, [n, ...this.index.imageShape!]);
    return out;
  }

  /** Global row ids of epoch `epoch` in reading order (see the file comment). */
  epochOrder(epoch: number, opts: { shuffle?: boolean; seed?: number; window?: number } = {}): Int32Array {
    const n = this.count;
    const order = new Int32Array(n);
    if (!(opts.shuffle ?? true)) {
      for (let i = 0; i < n; i++) order[i] = i;
      return order;
    }
    const rng = new Rng(opts.seed ?? 0, epoch);
    const shards = rng.permutation(this.index.shards.length);
    const win = opts.window ?? 4;
    let o = 0;
    for (let s0 = 0; s0 < shards.length; s0 += win) {
      const rows: number[] = [];
      for (const s of shards.subarray(s0, s0 + win)) for (let r = 0; r < this.index.shards[s].count; r++) rows.push(this.offsets[s] + r);
      const perm = rng.permutation(rows.length);
      for (let i = 0; i < rows.length; i++) order[o++] = rows[perm[i]];
    }
    return order;
  }

  /** Position-addressed batches for core's Trainer (see FeatureDataOptions). */
  dataSource(opts: FeatureDataOptions): DataSource<FeatureBatch> {
    const bs = opts.batchSize;
    if (!Number.isInteger(bs) || bs < 1) throw new ConfigError('FeatureCache.dataSource', `batchSize must be a positive integer, got ${bs}`);
    const dropLast = opts.dropLast ?? true;
    const batchesPerEpoch = dropLast ? Math.floor(this.count / bs) : Math.ceil(this.count / bs);
    if (batchesPerEpoch < 1) throw new ConfigError('FeatureCache.dataSource', `batchSize ${bs} exceeds the ${this.count} cached samples`);
    this.maxShards = Math.max(this.maxShards, 2 * (opts.window ?? 4) + 1);
    let cached: { epoch: number; order: Int32Array } | null = null;
    return {
      batchesPerEpoch,
      batch: async (epoch: number, index: number) => {
        if (index < 0 || index >= batchesPerEpoch) throw new RangeError(`batch index ${index} outside [0, ${batchesPerEpoch})`);
        if (cached?.epoch !== epoch) cached = { epoch, order: this.epochOrder(epoch, opts) };
        return this.gather(cached.order.subarray(index * bs, Math.min(this.count, (index + 1) * bs)), { images: opts.images });
      },
    };
  }

  /** All batches of one epoch in order (for evaluation and statistics). */
  async *batches(opts: FeatureDataOptions & { epoch?: number }): AsyncGenerator<FeatureBatch> {
    const src = this.dataSource({ shuffle: false, dropLast: false, ...opts });
    for (let i = 0; i < src.batchesPerEpoch!; i++) yield await src.batch(opts.epoch ?? 0, i);
  }

  private locate(row: number): [number, number] {
    if (!(row >= 0 && row < this.count)) throw new RangeError(`row ${row} outside [0, ${this.count})`);
    let lo = 0;
    let hi = this.offsets.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.offsets[mid] <= row) lo = mid;
      else hi = mid - 1;
    }
    return [lo, row - this.offsets[lo]];
  }
}

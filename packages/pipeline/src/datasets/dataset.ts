// Datasets that stream: every dataset is a random-access list of labelled images (`get(i)` decodes
// one item), so shuffling (a seeded permutation per epoch), sharding (shard i of n takes every n-th
// item of that order) and batching are the same for image folders, tar shards and MNIST. Only a
// batch of decoded images is in memory at a time.
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, Rng, type DataSource, type RawImage } from '@fae/core';
import { applyTransform, type FloatImage, type ImageTransform } from './transforms.js';

export type { FloatImage } from './transforms.js';


export interface DatasetItem {
  /** Where it came from (file path, tar member, mnist index). */
  key: string;
  /** Class index (0 when the dataset has no labels). */
  label: number;
  image: RawImage | FloatImage;
}

export interface ImageDataset {
  /** For logs and cache indexes (the folder, shard pattern or 'mnist:train'). */
  readonly name: string;
  readonly size: number;
  /** Class names by label. */
  readonly classes: string[];
  get(index: number): Promise<DatasetItem>;
}

export interface BatchOptions {
  batchSize: number;
  /** Shuffle with a permutation drawn from (seed, epoch) (default true). */
  shuffle?: boolean;
  seed?: number;
  epoch?: number;
  /** This process's part: items j of the epoch order with j % count === index. */
  shard?: { index: number; count: number };
  /** Resize / crop / flip to the pipeline's image size (flips are seeded too). */
  transform?: ImageTransform;
  /** Drop a last incomplete batch (default false). */
  dropLast?: boolean;
  /** Skip this many items of the (sharded) order first: resuming a pass. */
  skip?: number;
}

export interface ImageBatch {
  /** [B, S, S, 3] in [0, 1]. */
  images: tf.Tensor4D;
  labels: Int32Array;
  keys: string[];
}

/** The dataset indices one pass visits, in order: shuffled by (seed, epoch), then sharded. */
export function epochIndices(size: number, o: Pick<BatchOptions, 'shuffle' | 'seed' | 'epoch' | 'shard'> = {}): Int32Array {
  let order: Int32Array;
  if (o.shuffle ?? true) order = new Rng(o.seed ?? 0, o.epoch ?? 0).permutation(size);
  else order = Int32Array.from({ length: size }, (_, i) => i);
  if (!o.shard) return order;
  const { index, count } = o.shard;
  if (!Number.isInteger(count) || count < 1 || !Number.isInteger(index) || index < 0 || index >= count) {
    throw new ConfigError('shard', `expected shard index in 0..count-1 and count >= 1, got ${index} of ${count}`);
  }
  return order.filter((_, j) => j % count === index);
}

/** One pass over the dataset in batches of decoded, transformed images. */
export async function* imageBatches(ds: ImageDataset, o: BatchOptions): AsyncGenerator<ImageBatch> {
  if (!Number.isInteger(o.batchSize) || o.batchSize < 1) throw new ConfigError('imageBatches', `batchSize must be a positive integer, got ${o.batchSize}`);
  if (ds.size < 1) throw new ConfigError(ds.name, 'the dataset is empty');
  const order = epochIndices(ds.size, o);
  // One flip draw per position of the epoch, so a pass resumed with `skip` flips as the whole pass would.
  const flipRng = new Rng(o.seed ?? 0, 1_000_003 + (o.epoch ?? 0));
  const flips = Array.from(order, () => flipRng.nextDouble() < 0.5);
  for (let start = o.skip ?? 0; start < order.length; start += o.batchSize) {
    const idx = order.subarray(start, start + o.batchSize);
    if (o.dropLast && idx.length < o.batchSize) break;
    const items = await Promise.all(Array.from(idx, (i) => ds.get(i)));
    const floats = items.map((it, j) => applyTransform(it.image, o.transform, flips[start + j], `${ds.name}: ${it.key}`));
    const { width, height } = floats[0];
    const data = new Float32Array(floats.length * width * height * 3);
    floats.forEach((f, j) => {
      if (f.width !== width || f.height !== height) throw new ConfigError(`${ds.name}: ${items[j].key}`, `is ${f.width}x${f.height} after the transform, the batch's first image ${width}x${height} (give a transform with imageSize)`);
      data.set(f.float, j * width * height * 3);
    });
    yield { images: tf.tensor4d(data, [floats.length, height, width, 3]), labels: Int32Array.from(items, (it) => it.label), keys: items.map((it) => it.key) };
  }
}

/** A dataset of the first `n` items of another (e.g. a quick evaluation). */
export function takeItems(ds: ImageDataset, n: number): ImageDataset {
  return { name: `${ds.name}[:${n}]`, size: Math.min(n, ds.size), classes: ds.classes, get: (i) => ds.get(i) };
}

/** A dataset of the given indices of another. */
export function subsetItems(ds: ImageDataset, indices: ArrayLike<number>, name = `${ds.name}[subset]`): ImageDataset {
  const idx = Int32Array.from(indices);
  return { name, size: idx.length, classes: ds.classes, get: (i) => ds.get(idx[i]) };
}

/**
 * Position-addressed batches for core's Trainer: batch (epoch, i) is items [i*B, (i+1)*B) of the
 * epoch's seeded order (a resumed run reads the very batches an uninterrupted one would). Last
 * incomplete batches are dropped.
 */
export function imageDataSource(ds: ImageDataset, o: Omit<BatchOptions, 'epoch' | 'skip' | 'dropLast'>): DataSource<ImageBatch> {
  const perEpoch = epochIndices(ds.size, { ...o, shuffle: false }).length;
  const batchesPerEpoch = Math.floor(perEpoch / o.batchSize);
  if (batchesPerEpoch < 1) throw new ConfigError(ds.name, `batch size ${o.batchSize} exceeds its ${perEpoch} items`);
  return {
    batchesPerEpoch,
    batch: async (epoch: number, index: number) => {
      const it = imageBatches(ds, { ...o, epoch, skip: index * o.batchSize, dropLast: true });
      const r = await it.next();
      await it.return(undefined);
      if (r.done) throw new ConfigError(ds.name, `no batch ${index} in epoch ${epoch}`);
      return r.value;
    },
  };
}

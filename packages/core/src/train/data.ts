// Data for the trainer. Resume must continue with the very batches an uninterrupted run would see,
// so data is addressed by position (epoch, index): either a random-access DataSource (the batch is a
// pure function of its position) or an iterator factory per epoch, which resume fast-forwards.
import { ConfigError } from '../errors.js';
import { Rng } from './rng.js';

/** Random-access batches: `batch(epoch, index)` must depend only on the position (and a fixed seed). */
export interface DataSource<B> {
  /** Batches per epoch; undefined: one endless epoch. */
  readonly batchesPerEpoch?: number;
  batch(epoch: number, index: number): B | Promise<B>;
}

/** An iterator per epoch (it ends when the epoch ends). Must yield the same batches for the same epoch. */
export type EpochIteratorFactory<B> = (epoch: number) => Iterator<B> | AsyncIterator<B>;

export type TrainData<B> = DataSource<B> | EpochIteratorFactory<B>;

export interface ArrayBatchesOptions {
  batchSize: number;
  /** Shuffle each epoch with a permutation drawn from Rng(seed, epoch) (default true). */
  shuffle?: boolean;
  seed?: number;
  /** Drop the last incomplete batch (default true, so every batch has batchSize items). */
  dropLast?: boolean;
}

/**
 * Batches over `n` examples: `make(indices)` builds the batch of the given example indices.
 * Epoch e's order is Rng(seed, e).permutation(n): reproducible, and any position is cheap to reach.
 */
export function indexBatches<B>(n: number, make: (indices: Int32Array, epoch: number) => B | Promise<B>, opts: ArrayBatchesOptions): DataSource<B> {
  const bs = opts.batchSize;
  if (!Number.isInteger(n) || n < 1 || !Number.isInteger(bs) || bs < 1) throw new ConfigError('indexBatches', `need n >= 1 and batchSize >= 1, got n=${n} batchSize=${bs}`);
  const dropLast = opts.dropLast ?? true;
  const batchesPerEpoch = dropLast ? Math.floor(n / bs) : Math.ceil(n / bs);
  if (batchesPerEpoch < 1) throw new ConfigError('indexBatches', `batchSize ${bs} is larger than the ${n} examples with dropLast`);
  const shuffle = opts.shuffle ?? true;
  const seed = opts.seed ?? 0;
  let cached: { epoch: number; order: Int32Array } | null = null;
  const orderOf = (epoch: number): Int32Array => {
    if (cached?.epoch !== epoch) cached = { epoch, order: shuffle ? new Rng(seed, epoch).permutation(n) : Int32Array.from({ length: n }, (_, i) => i) };
    return cached.order;
  };
  return {
    batchesPerEpoch,
    batch(epoch, index) {
      if (index < 0 || index >= batchesPerEpoch) throw new RangeError(`batch index ${index} outside [0, ${batchesPerEpoch})`);
      const order = orderOf(epoch);
      return make(order.subarray(index * bs, Math.min(n, (index + 1) * bs)), epoch);
    },
  };
}

export function isDataSource<B>(d: TrainData<B>): d is DataSource<B> {
  return typeof d === 'object' && d !== null && typeof (d as DataSource<B>).batch === 'function';
}

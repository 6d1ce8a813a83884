// Data-parallel training through the Trainer: with `replicas` set, each of `size` processes (one per
// GPU) runs the same Trainer on the same global batches and
//   1. keeps its block of rows of every global batch: rows [rank * B/size, (rank + 1) * B/size)
//   2. draws random numbers through a view of the run's Rng that makes every replica see its rows of
//      the numbers a single process would draw for the whole global batch (see ReplicaRng)
//   3. replaces its gradients and loss by their mean over the replicas (allReduceMean, the transport
//      is the caller's: @fae/pipeline's ReplicaGroup uses the IPC channel of forked processes)
// then clips, steps the optimizer and updates the EMA as a single process does. Every replica applies
// the same mean to the same weights, so replicas stay bit-identical without broadcasting weights, and
// the run equals one process on the summed batch up to float32 rounding of the batch mean (the sum
// over rows is split in `size` partial sums), for losses that are means over rows of per-row terms.
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '../errors.js';
import { type NamedGrads } from './grads.js';
import { Rng } from './rng.js';

/** The transport between replicas (one object per process). */
export interface TrainerReplicas {
  /** 0..size-1 */
  readonly rank: number;
  readonly size: number;
  /**
   * The element-wise mean over replicas of `grads` and of `loss`. Every replica calls it once per
   * optimizer step, in the same order, with arrays of the same length; every replica gets the same
   * bytes back. The mean is summed in rank order in float32, then divided by size (what
   * GradAccumulator does with micro-batches).
   */
  allReduceMean(grads: Float32Array, loss: number): Promise<{ grads: Float32Array; loss: number }>;
}

/** A batch's rows of this replica: every tensor (or typed array) at the batch's top level is cut along axis 0. */
export function replicaRows<B>(batch: B, rank: number, size: number): { batch: B; rows: number } {
  if (size === 1) return { batch, rows: rowsOf(batch) };
  const entries = Object.entries(batch as Record<string, unknown>).filter(([, v]) => v instanceof tf.Tensor || ArrayBuffer.isView(v));
  if (!entries.length) throw new ConfigError('Trainer replicas', 'the batch holds no tensors to split over replicas');
  const rows = rowsOf(batch);
  if (rows % size !== 0) throw new ConfigError('Trainer replicas', `a batch of ${rows} rows does not split over ${size} replicas (use a global batch that is a multiple of the replica count)`);
  const per = rows / size;
  const out: Record<string, unknown> = { ...(batch as Record<string, unknown>) };
  for (const [k, v] of entries) {
    if (v instanceof tf.Tensor) out[k] = tf.slice(v, [rank * per], [per]); // [per, ...]
    else {
      const a = v as unknown as Float32Array;
      const w = a.length / rows;
      out[k] = a.slice(rank * per * w, (rank + 1) * per * w);
    }
  }
  return { batch: out as B, rows: per };
}

function rowsOf(batch: unknown): number {
  let rows = -1;
  for (const [k, v] of Object.entries(batch as Record<string, unknown>)) {
    const n = v instanceof tf.Tensor ? v.shape[0] : ArrayBuffer.isView(v) ? (v as unknown as ArrayLike<number>).length : undefined;
    if (n === undefined) continue;
    if (rows >= 0 && n !== rows) throw new ConfigError('Trainer replicas', `batch entries disagree on the row count: '${k}' has ${n}, another ${rows}`);
    rows = n;
  }
  return Math.max(rows, 0);
}

/**
 * The Rng a replica's loss draws from. Raw numbers (nextUint32, nextDouble, nextInt, permutation) come
 * from the shared run Rng unchanged: every replica draws them, the same ones. A bulk draw whose
 * length is a multiple of this replica's row count (normal / uniform / integers of a [rows, ...]
 * shape, fillNormal / fillUniform / fillBernoulli of a rows-major array) is taken as rows-major: the
 * view draws `size` times as many numbers, those of the whole global batch, and keeps block `rank`.
 * So a loss whose random numbers are bulk draws over its batch sees exactly the numbers of its rows in
 * a single-process run on the global batch. Not covered (numbers equal in distribution only): per-row
 * loops of raw draws (e.g. one permutation or nextDouble per row).
 */
export class ReplicaRng extends Rng {
  /** Rows of this replica's current micro-batch (set by the Trainer before each loss). */
  rows = 0;

  constructor(readonly shared: Rng, readonly rank: number, readonly size: number) {
    super(0);
  }

  override nextUint32(): number {
    return this.shared.nextUint32();
  }

  private rowMajor(length: number): boolean {
    return this.size > 1 && this.rows > 0 && length > 0 && length % this.rows === 0;
  }

  private block<T extends Float32Array | Float64Array | Int32Array>(length: number, draw: (global: number) => T): T {
    const all = draw(length * this.size);
    return all.subarray(this.rank * length, (this.rank + 1) * length) as T;
  }

  override fillNormal<T extends Float32Array | Float64Array>(out: T, mean = 0, std = 1): T {
    if (!this.rowMajor(out.length)) return this.shared.fillNormal(out, mean, std);
    out.set(this.block(out.length, (n) => this.shared.fillNormal(new Float64Array(n), mean, std)));
    return out;
  }

  override fillUniform<T extends Float32Array | Float64Array>(out: T, low = 0, high = 1): T {
    if (!this.rowMajor(out.length)) return this.shared.fillUniform(out, low, high);
    out.set(this.block(out.length, (n) => this.shared.fillUniform(new Float64Array(n), low, high)));
    return out;
  }

  override fillBernoulli(out: Float32Array, keep: number): Float32Array {
    if (!this.rowMajor(out.length)) return this.shared.fillBernoulli(out, keep);
    out.set(this.block(out.length, (n) => this.shared.fillBernoulli(new Float32Array(n), keep)));
    return out;
  }

  override integers(shape: number[], low: number, high: number): tf.Tensor {
    const n = shape.reduce((a, b) => a * b, 1);
    if (!this.rowMajor(n)) return this.shared.integers(shape, low, high);
    const all = this.shared.integers([n * this.size], low, high);
    try {
      return tf.reshape(tf.slice(all, [this.rank * n], [n]), shape);
    } finally {
      all.dispose();
    }
  }

  override state() {
    return this.shared.state();
  }

  override setState(state: ReturnType<Rng['state']>): this {
    this.shared.setState(state);
    return this;
  }

  override jump(): this {
    this.shared.jump();
    return this;
  }
}

/** Replaces `grads` (and `loss`) by their mean over the replicas; consumes the inputs. */
export async function allReduceGrads(replicas: TrainerReplicas, grads: NamedGrads, loss: tf.Scalar): Promise<{ grads: NamedGrads; loss: tf.Scalar }> {
  const order = [...grads.keys()];
  const names = [...order].sort(); // the wire order: the same in every replica
  const shapes = names.map((k) => grads.get(k)!.shape);
  const sizes = shapes.map((s) => s.reduce((a, b) => a * b, 1));
  const flat = new Float32Array(sizes.reduce((a, b) => a + b, 0));
  let off = 0;
  for (const [i, k] of names.entries()) {
    flat.set((await grads.get(k)!.data()) as Float32Array, off);
    off += sizes[i];
  }
  const lossValue = (await loss.data())[0];
  for (const g of grads.values()) g.dispose();
  loss.dispose();
  const r = await replicas.allReduceMean(flat, lossValue);
  if (r.grads.length !== flat.length) throw new ConfigError('Trainer replicas', `the mean gradient has ${r.grads.length} values, this replica's ${flat.length} (replicas hold different models?)`);
  const byName = new Map<string, tf.Tensor>();
  off = 0;
  for (const [i, k] of names.entries()) {
    byName.set(k, tf.tensor(r.grads.subarray(off, off + sizes[i]), shapes[i], 'float32'));
    off += sizes[i];
  }
  // the caller's key order (the order the gradient norm sums in), not the sorted wire order
  return { grads: new Map(order.map((k) => [k, byName.get(k)!])), loss: tf.scalar(r.loss, 'float32') };
}

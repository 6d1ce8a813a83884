// Per-channel latent statistics (mean and standard deviation over a dataset), accumulated in
// float64 batch by batch (Chan et al.'s parallel update), so they can be computed over a stream and
// merged across workers. Generators are trained on (z - mean) / std (LightningDiT's `latent_norm`).
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError } from '@fae/core';

export interface LatentStats {
  /** Per-channel mean [c]. */
  mean: Float64Array;
  /** Per-channel standard deviation [c] (population, i.e. divided by count). */
  std: Float64Array;
  /** Number of values per channel that were averaged (batch x h x w summed over batches). */
  count: number;
}

export class LatentStatsAccumulator {
  private n = 0;
  private readonly mu: Float64Array;
  private readonly m2: Float64Array;
  constructor(readonly channels: number) {
    this.mu = new Float64Array(channels);
    this.m2 = new Float64Array(channels);
  }

  /** Adds a batch of latents [..., c] (channels last). Reads the tensor; does not dispose it. */
  async add(z: tf.Tensor): Promise<void> {
    const c = z.shape[z.rank - 1];
    if (c !== this.channels) throw new ShapeError('latents', `[..., ${this.channels}] (channels last)`, `[${z.shape}]`);
    this.addValues((await z.data()) as Float32Array);
  }

  /** Adds channel-last values (length a multiple of `channels`). */
  addValues(values: ArrayLike<number>): void {
    const c = this.channels;
    const nb = values.length / c;
    if (!Number.isInteger(nb)) throw new ShapeError('latent values', `a multiple of ${c} values`, `${values.length}`);
    if (nb === 0) return;
    const mean = new Float64Array(c);
    const m2 = new Float64Array(c);
    for (let i = 0; i < values.length; i++) mean[i % c] += values[i];
    for (let k = 0; k < c; k++) mean[k] /= nb;
    for (let i = 0; i < values.length; i++) {
      const d = values[i] - mean[i % c];
      m2[i % c] += d * d;
    }
    this.combine(nb, mean, m2);
  }

  /** Merges another accumulator's statistics into this one (order-independent up to rounding). */
  merge(other: LatentStatsAccumulator): this {
    if (other.channels !== this.channels) throw new ShapeError('LatentStatsAccumulator.merge', `${this.channels} channels`, `${other.channels}`);
    this.combine(other.n, other.mu, other.m2);
    return this;
  }

  private combine(nb: number, meanB: Float64Array, m2B: Float64Array): void {
    if (nb === 0) return;
    const na = this.n;
    const n = na + nb;
    for (let k = 0; k < this.channels; k++) {
      const delta = meanB[k] - this.mu[k];
      this.mu[k] += (delta * nb) / n;
      this.m2[k] += m2B[k] + (delta * delta * na * nb) / n;
    }
    this.n = n;
  }

  get count(): number {
    return this.n;
  }

  /** The statistics so far. `minStd` floors the standard deviation (a dead channel would divide by 0). */
  result(minStd = 1e-6): LatentStats {
    if (this.n === 0) throw new ShapeError('LatentStatsAccumulator', 'at least one batch of latents', 'none');
    const std = new Float64Array(this.channels);
    for (let k = 0; k < this.channels; k++) std[k] = Math.max(Math.sqrt(this.m2[k] / this.n), minStd);
    return { mean: Float64Array.from(this.mu), std, count: this.n };
  }
}

/** Anything that turns features into latent moments: SingleAttentionEncoder fits. */
export interface LatentEncoderLike {
  readonly latentChannels: number;
  encode(features: tf.Tensor, opts?: { sample?: boolean }): { mean: tf.Tensor; logvar: tf.Tensor; z: tf.Tensor };
}

export interface ComputeLatentStatsOptions {
  /** Called after each batch with the number of latent vectors seen. */
  onProgress?: (seen: number) => void;
}

/**
 * Streams feature batches [B, h, w, D] through `encoder` (posterior means, as generators are
 * trained on) and returns per-channel statistics. Feature tensors are not disposed (the caller owns them).
 */
export async function computeLatentStats(encoder: LatentEncoderLike, batches: AsyncIterable<tf.Tensor> | Iterable<tf.Tensor>, opts: ComputeLatentStatsOptions = {}): Promise<LatentStats> {
  const acc = new LatentStatsAccumulator(encoder.latentChannels);
  for await (const features of batches) {
    const out = encoder.encode(features, { sample: false });
    try {
      await acc.add(out.mean);
    } finally {
      tf.dispose([out.mean, out.logvar, out.z]);
    }
    opts.onProgress?.(acc.count);
  }
  return acc.result();
}

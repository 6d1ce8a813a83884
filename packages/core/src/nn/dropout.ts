// Dropout (torch.nn.Dropout): in training mode zeroes each element with probability p and scales the
// rest by 1 / (1 - p); identity in eval mode. The mask comes from a seeded Rng (the same on every
// backend, reproducible and checkpointable); without one, tf.dropout's own random stream is used.
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '../errors.js';
import { Module } from './module.js';
import type { Rng } from '../train/rng.js';

export interface DropoutOptions {
  /** Generator for the masks (e.g. the trainer's rng); forward's `rng` overrides it. */
  rng?: Rng;
}

export class Dropout extends Module {
  rng: Rng | null;
  constructor(readonly p: number, opts: DropoutOptions = {}) {
    super();
    if (!(p >= 0 && p < 1)) throw new ConfigError('Dropout', `p must be in [0, 1), got ${p}`);
    this.rng = opts.rng ?? null;
  }

  /** x: [...] -> [...] (same shape). */
  forward(x: tf.Tensor, opts: { rng?: Rng } = {}): tf.Tensor {
    if (!this.training || this.p === 0) return tf.clone(x);
    const rng = opts.rng ?? this.rng;
    if (!rng) return tf.dropout(x, this.p);
    return tf.tidy(() => {
      const keep = 1 - this.p;
      const mask = tf.tensor(rng.fillBernoulli(new Float32Array(x.size), keep), x.shape, 'float32'); // [...] of 0/1
      return tf.mul(x, tf.mul(mask, 1 / keep));
    });
  }
}

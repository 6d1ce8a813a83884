// sample(): latents from a velocity model, with a sampler, guidance, a timestep shift and seeded noise.
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, Rng, ShapeError } from '@fae/core';
import type { VelocityModel } from '../velocity-model.js';
import { guidedVelocity, type GuidanceOptions } from './guidance.js';
import { euler } from './euler.js';
import { heun } from './heun.js';
import { eulerMaruyama } from './euler-maruyama.js';
import type { Sampler, StepInfo } from './types.js';

export const SAMPLERS: Record<string, Sampler> = { euler, heun, 'euler-maruyama': eulerMaruyama };

export interface SampleOptions {
  model: VelocityModel;
  /** Class labels [B] (tensor or numbers). Omitted: `batchSize` unconditional samples (null class). */
  labels?: tf.Tensor | ArrayLike<number>;
  batchSize?: number;
  /** Steps of the sampler (the paper: 250). */
  steps: number;
  /** A Sampler or its name: 'euler' (default), 'heun', 'euler-maruyama'. */
  sampler?: Sampler | 'euler' | 'heun' | 'euler-maruyama';
  guidance?: GuidanceOptions | null;
  /** SD3-style timestep shift factor (the paper's LightningDiT-form 0.4 = 2.5 here); default 1. */
  shift?: number;
  /** Seed of the initial noise and the SDE noise (default 0); or pass `rng`. */
  seed?: number;
  rng?: Rng;
  /** Latent shape [h, w, c] (default: the model's). */
  latentShape?: [number, number, number];
  /** Initial noise [B, h, w, c] instead of drawing it (not disposed). */
  noise?: tf.Tensor;
  onProgress?: (info: StepInfo) => void | Promise<void>;
}

/** Runs the sampler from noise (s = 1) to data (s = 0). Returns latents [B, h, w, c] (NHWC). */
export async function sample(opts: SampleOptions): Promise<tf.Tensor> {
  const { model } = opts;
  const sampler = typeof opts.sampler === 'object' ? opts.sampler : SAMPLERS[opts.sampler ?? 'euler'];
  if (!sampler) throw new ConfigError('sample', `unknown sampler '${String(opts.sampler)}' (known: ${Object.keys(SAMPLERS).join(', ')})`);
  const rng = opts.rng ?? new Rng(opts.seed ?? 0);
  const shape = opts.latentShape ?? model.latentShape;
  if (!shape) throw new ConfigError('sample', 'latentShape is required for a model without a default latent shape');
  let labels: tf.Tensor;
  if (opts.labels === undefined) {
    if (model.nullClass === null) throw new ConfigError('sample', 'labels are required: the model has no null class for unconditional samples');
    if (!opts.batchSize) throw new ConfigError('sample', 'give labels or batchSize');
    labels = tf.fill([opts.batchSize], model.nullClass, 'int32');
  } else labels = opts.labels instanceof tf.Tensor ? tf.cast(opts.labels, 'int32') : tf.tensor1d(Array.from(opts.labels), 'int32');
  const b = labels.shape[0];
  if (labels.rank !== 1 || b < 1) {
    labels.dispose();
    throw new ShapeError('sample labels', '[B] with B >= 1', `[${labels.shape}]`);
  }
  const noise = opts.noise ?? rng.normal([b, ...shape]);
  try {
    if (opts.noise && (noise.rank !== 4 || noise.shape[0] !== b)) throw new ShapeError('sample noise', `[${b}, h, w, c]`, `[${noise.shape}]`);
    const velocity = guidedVelocity(model, labels, opts.guidance);
    return await sampler.run(velocity, noise, { steps: opts.steps, shift: opts.shift ?? 1, rng, onStep: opts.onProgress });
  } finally {
    labels.dispose();
    if (!opts.noise) noise.dispose();
  }
}

// sample(): the generator-agnostic sampling call, the same shape as @fae/diffusion's
// `sample({ model, labels, steps, guidance, seed, onProgress })`, so apps can swap a diffusion model
// for a flow. Draws seeded Gaussian noise, inverts the flow token by token (progress after every
// token), optionally applies the score-based denoising step, and returns latents [B, h, w, c] (NHWC).
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, Rng, ShapeError } from '@fae/core';
import { selfDenoise, type DenoiseOptions } from './denoise.js';
import type { FlowProgress, Labels, ReverseOptions, TarFlow } from './tarflow.js';

export interface FlowSampleOptions extends Omit<ReverseOptions, 'onProgress' | 'guidance'> {
  model: TarFlow;
  /** Class per sample (sets the batch size); negative entries or no labels = unconditional. */
  labels?: Labels;
  /** Batch size when no labels are given (default 1). */
  batchSize?: number;
  /**
   * Accepted so the same options work for diffusion samplers, and ignored: a flow's step count is
   * fixed (blocks x (tokens - 1) token steps, reported in the progress events).
   */
  steps?: number;
  /**
   * Guidance weight w as upstream TARFlow/STARFlow (0 = none; a <- a + w (a - a_u)), or
   * @fae/diffusion's form `{ scale }` with CFG scale = 1 + w (1 = none). Piecewise schedules are
   * a diffusion notion and are rejected.
   */
  guidance?: number | { scale: number | unknown[]; interval?: unknown } | null;
  /** Seed of the noise (default 0); the noise is drawn in JS by core's Rng: same samples on every backend. */
  seed?: number;
  rng?: Rng;
  /** Initial noise (not taken): latents [B, h, w, c] (NHWC, as @fae/diffusion) or flow tokens [B, T, D]. */
  noise?: tf.Tensor;
  /** Score-based denoising after sampling (for models trained with noise augmentation). */
  denoise?: DenoiseOptions;
  /** Progress after every token; may return a promise (awaited). */
  onProgress?: (e: FlowProgress) => void | Promise<void>;
  /** Yield to the event loop at most this often while sampling, in ms (default 50; 0 = never). */
  yieldEveryMs?: number;
}

const nextTick = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/** The flow guidance weight w from either convention. */
export function flowGuidanceWeight(g: FlowSampleOptions['guidance']): number {
  if (g === null || g === undefined) return 0;
  if (typeof g === 'number') return g;
  if (typeof g.scale !== 'number') throw new ConfigError('sample guidance', 'piecewise guidance schedules are not defined for flows; give a number (w) or { scale }');
  if (g.interval !== undefined) throw new ConfigError('sample guidance', 'guidance intervals (noise levels) are not defined for flows; use annealedGuidance');
  return g.scale - 1;
}

/** Samples latents [B, h, w, c] (NHWC) from a TarFlow. */
export async function sample(opts: FlowSampleOptions): Promise<tf.Tensor> {
  const { model } = opts;
  const labelCount = opts.labels === null || opts.labels === undefined ? null : opts.labels instanceof tf.Tensor ? opts.labels.shape[0]! : opts.labels.length;
  const batch = opts.noise ? opts.noise.shape[0]! : labelCount ?? opts.batchSize ?? 1;
  if (labelCount !== null && labelCount !== batch) throw new ShapeError('sample labels', `[${batch}] (one per noise sample)`, `[${labelCount}]`);
  if (!Number.isInteger(batch) || batch < 1) throw new ConfigError('sample', `batch size must be a positive integer, got ${batch}`);
  const guidance = flowGuidanceWeight(opts.guidance);
  let noise: tf.Tensor; // tokens [B, T, D]
  if (!opts.noise) noise = (opts.rng ?? new Rng(opts.seed ?? 0)).normal([batch, model.numPatches, model.tokenDim]);
  else if (opts.noise.rank === 4) noise = model.patchify(opts.noise);
  else if (opts.noise.rank === 3) noise = tf.clone(opts.noise);
  else throw new ShapeError('sample noise', `[B, ${model.latentShape}] (NHWC) or [B, ${model.numPatches}, ${model.tokenDim}] (tokens)`, `[${opts.noise.shape}]`);
  const yieldEvery = opts.yieldEveryMs ?? 50;
  let last = Date.now();
  let x: tf.Tensor | null = null;
  try {
    const gen = model.reverseSteps(noise, opts.labels, { ...opts, guidance });
    try {
      let r = gen.next();
      while (!r.done) {
        await opts.onProgress?.(r.value);
        if (yieldEvery > 0 && Date.now() - last >= yieldEvery) {
          await nextTick();
          last = Date.now();
        }
        r = gen.next();
      }
      x = r.value; // [B, H, W, C]
    } finally {
      gen.return(undefined as unknown as tf.Tensor);
    }
    if (!opts.denoise) return x;
    const denoised = selfDenoise(model, x, opts.labels, opts.denoise);
    x.dispose();
    return denoised;
  } catch (e) {
    x?.dispose();
    throw e;
  } finally {
    noise.dispose();
  }
}

// Flow matching with the linear interpolant, and the two time conventions.
//
// This package writes the NOISE LEVEL s in [0, 1] for sampler and training time: s = 1 is pure noise,
// s = 0 is data (REPA, SD3, and the FAE paper's alpha_t = 1 - t, sigma_t = t):
//     x_s = (1 - s) x + s eps,          velocity  dx_s/ds = eps - x.
// LightningDiT and SiT count the other way (t = 0 noise, t = 1 data): t = 1 - s, x_t = t x + (1 - t) eps,
// velocity x - eps = -(eps - x). A model declares its convention (VelocityModel.timeConvention) and the
// conversion happens here and in the samplers only.
//
// Timestep shift. SD3 / RAE form on the noise level:  s' = a s / (1 + (a - 1) s)   (a > 1: more time
// near noise). LightningDiT's form on its own time t (t = 0 noise):  t' = k t / (1 + (k - 1) t)
// (k < 1: more time near noise). They are the same map under s = 1 - t with a = 1 / k: the FAE paper's
// "shift 0.4" (LightningDiT's k) is an SD3 factor a = 2.5; LightningDiT's released sampling config
// uses k = 0.3 (a = 3.33). Options named `shift` in this package are the SD3 factor a.
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, Rng } from '@fae/core';
import type { TimeConvention } from './config.js';
import type { VelocityModel } from './velocity-model.js';

/** SD3/RAE shift of a noise level (s = 1 noise): a s / (1 + (a - 1) s). a = 1 is the identity. */
export function shiftNoiseLevel(s: number, a: number): number {
  if (!(a > 0)) throw new ConfigError('timestep shift', `shift factor must be > 0, got ${a}`);
  return (a * s) / (1 + (a - 1) * s);
}

/** Inverse of shiftNoiseLevel. */
export function unshiftNoiseLevel(s: number, a: number): number {
  return s / (a - (a - 1) * s);
}

/** LightningDiT's shift on its time t (t = 0 noise): k t / (1 + (k - 1) t) (transport/integrators.py). */
export function lightningDiTShift(t: number, k: number): number {
  if (!(k > 0)) throw new ConfigError('timestep shift', `LightningDiT shift must be > 0, got ${k}`);
  return (k * t) / (1 + (k - 1) * t);
}

/** The SD3-style factor equal to LightningDiT's shift k (t = 0 noise): a = 1 / k (0.4 -> 2.5). */
export function sd3ShiftFromLightningDiT(k: number): number {
  return 1 / k;
}

/** The model's time for a noise level s. */
export function modelTime(s: number, convention: TimeConvention): number {
  return convention === 'noise-at-1' ? s : 1 - s;
}

export type TimeSampling =
  | { kind: 'uniform' }
  /** t = sigmoid(N(mean, std^2)) (LightningDiT `use_lognorm`: mean 0, std 1; symmetric, so either convention). */
  | { kind: 'logit-normal'; mean?: number; std?: number };

/** n training noise levels: drawn from `sampling`, then shifted by the SD3 factor `shift` (default 1). */
export function sampleNoiseLevels(rng: Rng, n: number, sampling: TimeSampling = { kind: 'uniform' }, shift = 1): Float32Array {
  const s = new Float32Array(n);
  if (sampling.kind === 'uniform') rng.fillUniform(s);
  else if (sampling.kind === 'logit-normal') {
    rng.fillNormal(s, sampling.mean ?? 0, sampling.std ?? 1);
    for (let i = 0; i < n; i++) s[i] = 1 / (1 + Math.exp(-s[i]));
  } else throw new ConfigError('flow matching', `unknown time sampling '${(sampling as { kind: string }).kind}' (uniform, logit-normal)`);
  if (shift !== 1) for (let i = 0; i < n; i++) s[i] = shiftNoiseLevel(s[i], shift);
  return s;
}

export interface FlowMatchingLossOptions {
  timeSampling?: TimeSampling;
  /** SD3-style shift factor applied to the training noise levels (default 1: none). */
  shift?: number;
  /** Probability of replacing a label by the model's null class (classifier-free guidance training). */
  labelDropout?: number;
  /** Add LightningDiT's cosine loss: mean(1 - cos(v, target)) over the channel axis. */
  cosineLoss?: boolean;
}

export interface FlowMatchingTerms {
  /** Scalar training loss (MSE, plus the cosine term when enabled). */
  loss: tf.Scalar;
  /** Noise levels drawn for the batch (s = 1 noise). */
  noiseLevels: Float32Array;
}

/**
 * One flow-matching loss on clean latents x [B, h, w, c] with labels [B]: draws s, eps (and label drops)
 * from `rng`, forms x_s = (1 - s) x + s eps, and regresses the model's velocity on its target in the
 * model's convention (eps - x for 'noise-at-1', x - eps for 'data-at-1'). Loss = mean over all elements.
 */
export function flowMatchingLoss(model: VelocityModel, x: tf.Tensor, labels: tf.Tensor, rng: Rng, opts: FlowMatchingLossOptions = {}): FlowMatchingTerms {
  const b = x.shape[0];
  const s = sampleNoiseLevels(rng, b, opts.timeSampling, opts.shift ?? 1);
  const noise = rng.normal(x.shape);
  const p = opts.labelDropout ?? 0;
  let drop: Int32Array | null = null;
  if (p > 0) {
    if (model.nullClass === null) throw new ConfigError('flow matching', 'labelDropout > 0 needs a model with a null class (class_dropout_prob > 0)');
    drop = new Int32Array(b);
    for (let i = 0; i < b; i++) drop[i] = rng.nextDouble() < p ? 1 : 0;
  }
  const loss = tf.tidy(() => {
    const sv = tf.tensor1d(s); // [B]
    const s4 = tf.reshape(sv, [b, 1, 1, 1]);
    const xs = tf.add(tf.mul(tf.sub(1, s4), x), tf.mul(s4, noise)); // [B, h, w, c]
    const noiseMinusData = tf.sub(noise, x);
    const dataAt1 = model.timeConvention === 'data-at-1';
    const tModel = dataAt1 ? tf.sub(1, sv) : sv;
    const target = dataAt1 ? tf.neg(noiseMinusData) : noiseMinusData;
    let y = tf.cast(labels, 'int32');
    if (drop) y = tf.where(tf.cast(tf.tensor1d(drop, 'int32'), 'bool'), tf.fill([b], model.nullClass!, 'int32'), y);
    const v = model.forward(xs, tModel, y); // [B, h, w, c]
    let l = tf.mean(tf.square(tf.sub(v, target))) as tf.Scalar;
    if (opts.cosineLoss) l = tf.add(l, cosineLoss(v, target)) as tf.Scalar;
    return l;
  });
  noise.dispose();
  return { loss, noiseLevels: s };
}

/** mean(1 - cos(a, b)) with the cosine over the last (channel) axis; torch eps 1e-8 on each norm. */
export function cosineLoss(a: tf.Tensor, b: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const axis = a.rank - 1;
    const dot = tf.sum(tf.mul(a, b), axis);
    // sqrt(max(|a|^2, eps^2)) = max(|a|, eps) with a finite gradient at a = 0 (torch's clamp).
    const na = tf.sqrt(tf.maximum(tf.sum(tf.square(a), axis), 1e-16));
    const nb = tf.sqrt(tf.maximum(tf.sum(tf.square(b), axis), 1e-16));
    return tf.mean(tf.sub(1, tf.div(dot, tf.mul(na, nb)))) as tf.Scalar;
  });
}

// Classifier-free guidance of one autoregressive affine step. A flow block predicts, for the next
// token, a log-scale `a` and a shift `b`; sampling sets x = z * exp(a) + b. Guidance combines the
// conditional (a, b) with the unconditional (a_u, b_u):
//   'tarflow'  (apple/ml-tarflow MetaBlock.reverse): a += w (a - a_u) if 'a' in guideWhat,
//              b += w (b - b_u) if 'b' in guideWhat; scale = exp(a).
//   'starflow' (apple/ml-starflow `logits_guided`, "(1+w) log p_c - w log p_u" for Gaussians):
//              s = min(sigma_c / sigma_u, 1)^2, sigma = sigma_c / sqrt(1 + w - w s),
//              mu = ((1 + w) mu_c - w s mu_u) / (1 + w - w s); guideWhat is not used.
// The weight w is `guidance`, or with annealing (i + 1) / (T - 1) * guidance at token step i.
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '@fae/core';

export type GuidanceMethod = 'tarflow' | 'starflow';
/** Which affine parameter TARFlow guidance acts on: log-scale 'a', shift 'b', or both. */
export type GuideWhat = 'a' | 'b' | 'ab' | '';

export interface AffineStep {
  /** Log-scale a (sigma = exp(a)): [B, 1, D]. */
  a: tf.Tensor;
  /** Shift b (mu): [B, 1, D]. */
  b: tf.Tensor;
}

/** Guidance weight at token step i of T tokens (upstream: (i + 1) / (T - 1) * w when annealed). */
export function guidanceWeight(guidance: number, step: number, tokens: number, annealed: boolean): number {
  return annealed ? ((step + 1) / (tokens - 1)) * guidance : guidance;
}

/**
 * Combines conditional and unconditional affine predictions into the scale and shift of the next
 * token: x_next = z_next * scale + shift. All tensors [B, 1, D].
 */
export function guidedAffine(cond: AffineStep, uncond: AffineStep, w: number, method: GuidanceMethod = 'tarflow', guideWhat: GuideWhat = 'ab'): { scale: tf.Tensor; shift: tf.Tensor } {
  return tf.tidy(() => {
    if (method === 'tarflow') {
      const a = guideWhat.includes('a') ? tf.add(cond.a, tf.mul(w, tf.sub(cond.a, uncond.a))) : cond.a;
      const b = guideWhat.includes('b') ? tf.add(cond.b, tf.mul(w, tf.sub(cond.b, uncond.b))) : cond.b;
      return { scale: tf.exp(a), shift: tf.clone(b) };
    }
    if (method === 'starflow') {
      // sigma_c / sigma_u = exp(a - a_u), clipped at 1 (so 1 + w - w s >= 1 and the root is real).
      const s = tf.square(tf.minimum(tf.exp(tf.sub(cond.a, uncond.a)), 1)); // [B, 1, D]
      const denom = tf.sub(1 + w, tf.mul(w, s)); // [B, 1, D]
      const scale = tf.div(tf.exp(cond.a), tf.sqrt(denom));
      const shift = tf.div(tf.sub(tf.mul(1 + w, cond.b), tf.mul(tf.mul(w, s), uncond.b)), denom);
      return { scale, shift };
    }
    throw new ConfigError('guidanceMethod', `unknown guidance method '${method as string}' (use 'tarflow' or 'starflow')`);
  });
}

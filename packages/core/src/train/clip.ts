// Global L2 gradient-norm clipping, as torch.nn.utils.clip_grad_norm_: the norm is taken over all
// gradients together; every gradient is scaled by min(1, maxNorm / (norm + 1e-6)).
import * as tf from '@tensorflow/tfjs-core';
import { addMany } from '../ops/many.js';
import { ConfigError } from '../errors.js';
import { toGradMap, type NamedGrads, type NamedGradsInput } from './grads.js';

/** sqrt(sum over every gradient of sum(g^2)), a scalar tensor. */
export function globalGradNorm(grads: NamedGradsInput): tf.Scalar {
  return tf.tidy(() => {
    const parts = [...toGradMap(grads).values()].map((g) => tf.sum(tf.square(g)));
    if (!parts.length) return tf.scalar(0);
    return tf.sqrt(addMany(parts)) as tf.Scalar;
  });
}

/**
 * Clipped copies of `grads` and their total norm before clipping (a scalar tensor, so no GPU read
 * happens here). The input gradients are left as they are: dispose them when done.
 * A non-finite norm gives non-finite gradients, as in torch; the NaN/Inf guard reports it.
 */
export function clipGradNorm(grads: NamedGradsInput, maxNorm: number): { grads: NamedGrads; norm: tf.Scalar } {
  if (!(maxNorm > 0)) throw new ConfigError('clipGradNorm', `maxNorm must be > 0, got ${maxNorm}`);
  const map = toGradMap(grads);
  const keys = [...map.keys()];
  const [norm, ...clipped] = tf.tidy(() => {
    const total = globalGradNorm(map);
    const coef = tf.minimum(tf.div(maxNorm, tf.add(total, 1e-6)), 1); // min(1, max / (norm + eps))
    return [total, ...keys.map((k) => tf.mul(map.get(k)!, coef))];
  });
  return { grads: new Map(keys.map((k, i) => [k, clipped[i]])), norm: norm as tf.Scalar };
}

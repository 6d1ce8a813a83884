// The diagonal Gaussian posterior q(z|x) = N(mean, exp(logvar)) of the FAE latent, its
// reparameterised sample and its KL divergence to the prior N(0, I).
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError, reduceLoss, type LossReduction } from '@fae/core';

/** @deprecated moved to @fae/core (re-exported here for one version). */
export { reduceLoss, type LossReduction };

/**
 * Splits the encoder's moments [..., 2c] into mean and logvar [..., c] (first half mean, as LDM's
 * DiagonalGaussianDistribution `torch.chunk(parameters, 2, dim=1)`), clamping logvar to [lo, hi].
 */
export function splitMoments(moments: tf.Tensor, clamp: [number, number] = [-30, 20]): { mean: tf.Tensor; logvar: tf.Tensor } {
  const c2 = moments.shape[moments.rank - 1];
  if (c2 % 2 !== 0) throw new ShapeError('moments', 'an even last dimension (mean and log-variance)', `[${moments.shape}]`);
  return tf.tidy(() => {
    const [mean, logvarRaw] = tf.split(moments, 2, moments.rank - 1); // [..., c] each
    return { mean, logvar: tf.clipByValue(logvarRaw, clamp[0], clamp[1]) };
  });
}

/** z = mean + exp(logvar / 2) * eps. `eps` ~ N(0, I) of mean's shape (pass it for reproducible draws). */
export function sampleGaussian(mean: tf.Tensor, logvar: tf.Tensor, eps: tf.Tensor): tf.Tensor {
  if (!arraysEqual(eps.shape, mean.shape)) throw new ShapeError('eps', `[${mean.shape}] (the shape of mean)`, `[${eps.shape}]`);
  return tf.tidy(() => tf.add(mean, tf.mul(tf.exp(tf.mul(logvar, 0.5)), eps)));
}

/**
 * KL(N(mean, exp(logvar)) || N(0, I)) = 0.5 * (mean^2 + exp(logvar) - 1 - logvar), per element.
 * 'mean' (default): averaged over every element (the unofficial FAE re-implementation's `kl.mean()`).
 * 'sum': summed over each sample's elements, averaged over the batch (LDM's AutoencoderKL convention).
 * Returns a scalar.
 */
export function gaussianKl(mean: tf.Tensor, logvar: tf.Tensor, reduction: LossReduction = 'mean'): tf.Scalar {
  return tf.tidy(() => {
    const perElement = tf.mul(0.5, tf.sub(tf.add(tf.square(mean), tf.exp(logvar)), tf.add(1, logvar))); // [B, ...]
    return reduceLoss(perElement, reduction);
  });
}

function arraysEqual(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

// Score-based denoising of samples (TARFlow `evaluate_fid.py` self-denoising, STARFlow `self_denoise`).
// A flow trained on data + N(0, sigma^2) noise models the noisy density p_sigma; Tweedie's formula
// gives the clean-data posterior mean E[x | x_noisy] = x + sigma^2 grad log p_sigma(x), i.e. one
// gradient step on the exact NLL: x <- x - sigma^2 * grad_x NLL(x), with the gradient by autodiff
// through the whole flow. Upstream's `lr = batch * H * W * C * sigma^2` on the mean loss is the same
// step; `lrScale` is upstream's `self_denoising_lr` multiplier (1 = the theoretical optimum).
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '@fae/core';
import { toLabels, type Labels, type TarFlow } from './tarflow.js';

export interface DenoiseOptions {
  /** Standard deviation of the noise the model was trained with (noise augmentation). */
  noiseStd: number;
  /** Multiplier of the optimal step sigma^2 (default 1). */
  lrScale?: number;
}

/** Gradient of the summed exact NLL w.r.t. x [B, H, W, C] -> [B, H, W, C] (the negative score). */
export function nllGradient(model: TarFlow, x: tf.Tensor, y?: Labels): tf.Tensor {
  return tf.tidy(() => {
    const labels = toLabels(y, x.shape[0]!);
    return tf.grad((xx: tf.Tensor) => tf.sum(model.nll(xx, labels)))(x);
  });
}

/** One Tweedie step: x - lrScale * sigma^2 * grad_x NLL(x). x: [B, H, W, C] -> [B, H, W, C]. */
export function selfDenoise(model: TarFlow, x: tf.Tensor, y: Labels, opts: DenoiseOptions): tf.Tensor {
  if (!(opts.noiseStd >= 0)) throw new ConfigError('selfDenoise', `noiseStd must be >= 0, got ${opts.noiseStd}`);
  return tf.tidy(() => {
    const step = (opts.lrScale ?? 1) * opts.noiseStd ** 2;
    return tf.sub(x, tf.mul(step, nllGradient(model, x, y)));
  });
}

// Losses of FAE's training stages.
//   Stage Ib (adapter + feature decoder): ||x^ - x||^2 + beta * KL(q(z|x) || N(0, I))   (paper Eq. 4.1)
//   Stage Ia / II (pixel decoder): w_rec * L_rec + w_perc * L_perc + lambda * w_gan * L_gan   (paper §4.2)
// with the GAN terms of taming-transformers / RAE: hinge discriminator loss, generator loss -mean(D(x^)),
// adaptive weight lambda = ||grad_last L_nll|| / (||grad_last L_gan|| + 1e-4), clipped to [0, 1e4].
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError } from '@fae/core';
import { gaussianKl, reduceLoss, type LossReduction } from '@fae/adapter';

/**
 * torch's .detach(): a new tensor sharing `x`'s data that is not recorded on the gradient tape, so
 * no gradient flows into `x` and the backward pass never visits what produced it (a customGrad with a
 * zero gradient would still walk that graph, and fail on ops without gradients such as the ones of
 * a nested tf.grad).
 */
export function stopGradient<T extends tf.Tensor>(x: T): T {
  // What the Identity kernel does (one more reference to the same data), minus the tape record.
  const engine = tf.engine();
  engine.backend.incRef(x.dataId);
  return engine.makeTensorFromDataId(x.dataId, x.shape, x.dtype) as T;
}

/** tf.tidy for functions returning an object of tensors (and nulls), typed as that object. */
export function tidyObject<T>(fn: () => T): T {
  return tf.tidy(fn as unknown as () => tf.TensorContainer) as unknown as T;
}

function sameShape(a: tf.Tensor, b: tf.Tensor, what: string): void {
  if (a.rank !== b.rank || a.shape.some((d, i) => d !== b.shape[i])) throw new ShapeError(what, `[${b.shape}] (the target's shape)`, `[${a.shape}]`);
}

// ------------------------------------------------------------------------------------------------
// Stage Ib
// ------------------------------------------------------------------------------------------------

export interface FeatureAutoEncoderLossOptions {
  /**
   * KL weight beta. Default 1e-6: the paper does not give it; 1e-6 is LDM's AutoencoderKL
   * `kl_weight` and the unofficial FAE re-implementation's default.
   */
  beta?: number;
  /**
   * 'mean' (default): squared error and KL averaged over elements (the unofficial re-implementation:
   * F.mse_loss + beta * kl.mean()); 'sum': both summed per sample and averaged over the batch (LDM).
   */
  reduction?: LossReduction;
}

export interface FeatureAutoEncoderLoss {
  loss: tf.Scalar;
  rec: tf.Scalar;
  kl: tf.Scalar;
}

/** Squared error between reconstructed and target features [B, h, w, D]. */
export function featureReconstructionLoss(pred: tf.Tensor, target: tf.Tensor, reduction: LossReduction = 'mean'): tf.Scalar {
  sameShape(pred, target, 'reconstructed features');
  return tf.tidy(() => reduceLoss(tf.squaredDifference(pred, target), reduction));
}

/** rec + beta * KL (see FeatureAutoEncoderLossOptions). */
export function featureAutoEncoderLoss(recon: tf.Tensor, target: tf.Tensor, mean: tf.Tensor, logvar: tf.Tensor, opts: FeatureAutoEncoderLossOptions = {}): FeatureAutoEncoderLoss {
  const beta = opts.beta ?? 1e-6;
  const reduction = opts.reduction ?? 'mean';
  return tidyObject(() => {
    const rec = featureReconstructionLoss(recon, target, reduction);
    const kl = gaussianKl(mean, logvar, reduction);
    return { loss: tf.add(rec, tf.mul(kl, beta)) as tf.Scalar, rec, kl };
  });
}

/** Mean cosine similarity over tokens of features [B, h, w, D] (a reconstruction metric). */
export function featureCosineSimilarity(a: tf.Tensor, b: tf.Tensor): tf.Scalar {
  sameShape(a, b, 'features');
  return tf.tidy(() => {
    const dot = tf.sum(tf.mul(a, b), -1); // [B, h, w]
    const na = tf.sqrt(tf.sum(tf.square(a), -1));
    const nb = tf.sqrt(tf.sum(tf.square(b), -1));
    return tf.mean(tf.div(dot, tf.maximum(tf.mul(na, nb), 1e-8))) as tf.Scalar;
  });
}

// ------------------------------------------------------------------------------------------------
// Pixel losses
// ------------------------------------------------------------------------------------------------

/**
 * A perceptual distance (e.g. LPIPS from @fae/eval), injected so this package does not depend on
 * it. Receives images NHWC in [-1, 1] (LPIPS's convention) and returns the mean distance, a scalar.
 */
export type PerceptualLoss = (pred: tf.Tensor, target: tf.Tensor) => tf.Scalar;

export type ReconstructionKind = 'l1' | 'l2';

/** mean |pred - target| ('l1') or mean (pred - target)^2 ('l2'). */
export function pixelReconstructionLoss(pred: tf.Tensor, target: tf.Tensor, kind: ReconstructionKind = 'l1'): tf.Scalar {
  sameShape(pred, target, 'reconstructed image');
  return tf.tidy(() => tf.mean(kind === 'l1' ? tf.abs(tf.sub(pred, target)) : tf.squaredDifference(pred, target)) as tf.Scalar);
}

/** Hinge loss of the discriminator: 0.5 (mean relu(1 - D(real)) + mean relu(1 + D(fake))). */
export function hingeDiscriminatorLoss(logitsReal: tf.Tensor, logitsFake: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.mul(0.5, tf.add(tf.mean(tf.relu(tf.sub(1, logitsReal))), tf.mean(tf.relu(tf.add(1, logitsFake))))) as tf.Scalar);
}

/** Generator's adversarial loss -mean(D(fake)) (taming / RAE). */
export function generatorAdversarialLoss(logitsFake: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.neg(tf.mean(logitsFake)) as tf.Scalar);
}

/**
 * Adaptive GAN weight from the gradients of the two losses w.r.t. the last layer's weight:
 * ||g_nll|| / (||g_gan|| + eps), clipped to [0, maxWeight] (taming's calculate_adaptive_weight: eps
 * 1e-4; RAE's `train_stage1.py` calculate_adaptive_weight: eps 1e-6).
 */
export function adaptiveGanWeight(gradNll: tf.Tensor, gradGan: tf.Tensor, maxWeight = 1e4, eps = 1e-4): tf.Scalar {
  return tf.tidy(() => tf.clipByValue(tf.div(tf.norm(gradNll), tf.add(tf.norm(gradGan), eps)), 0, maxWeight) as tf.Scalar);
}

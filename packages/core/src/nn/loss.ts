// Reducing a per-element loss to the scalar that is optimised.
import * as tf from '@tensorflow/tfjs-core';

/** How a per-element quantity is reduced to the scalar loss. */
export type LossReduction = 'mean' | 'sum';

/** 'mean': mean over all elements. 'sum': sum over all but the batch axis, mean over the batch. */
export function reduceLoss(perElement: tf.Tensor, reduction: LossReduction): tf.Scalar {
  return tf.tidy(() => {
    if (reduction === 'mean') return tf.mean(perElement) as tf.Scalar;
    const batch = perElement.rank > 0 ? perElement.shape[0] : 1;
    return tf.div(tf.sum(perElement), batch) as tf.Scalar;
  });
}

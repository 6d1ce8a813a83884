// Judging generated digits with the separately trained classifier: accuracy for the requested class,
// and the "digit FID" (Frechet distance between Gaussians fitted to the classifier's 128-d penultimate
// features of generated and of real held-out digits; @fae/eval's float64 frechetDistance).
import * as tf from '@tensorflow/tfjs-core';
import { FeatureStatistics, frechetDistance } from '@fae/eval';
import type { DigitClassifier } from '../models/digit-classifier.js';

export interface SampleJudgement {
  /** Fraction classified as the requested label. */
  accuracy: number;
  /** Digit FID against the held-out reference. */
  fid: number;
  /** Per requested class accuracy. */
  perClass: number[];
  n: number;
}

/** [B, 28, 28, C] in [0, 1] (any C) -> grey [B, 28, 28, 1]. */
export function toGrey(images: tf.Tensor): tf.Tensor4D {
  return tf.tidy(() => tf.clipByValue(images.shape[3] === 1 ? images : tf.mean(images, 3, true), 0, 1) as tf.Tensor4D);
}

/** Classifier features [N, 128] and predictions of images in [0, 1], in batches. */
export async function classify(classifier: DigitClassifier, images: tf.Tensor, batch = 250): Promise<{ features: Float32Array; predictions: Int32Array }> {
  const n = images.shape[0]!;
  const dim = classifier.config.feature_dim;
  const features = new Float32Array(n * dim);
  const predictions = new Int32Array(n);
  for (let i = 0; i < n; i += batch) {
    const m = Math.min(batch, n - i);
    const [f, p] = tf.tidy(() => {
      const part = tf.slice(images, [i, 0, 0, 0], [m, -1, -1, -1]);
      const out = classifier.forward(toGrey(part));
      return [out.features, tf.argMax(out.logits, 1)];
    });
    features.set((await f.data()) as Float32Array, i * dim);
    predictions.set((await p.data()) as Int32Array, i);
    tf.dispose([f, p]);
  }
  return { features, predictions };
}

export function gaussianOf(features: Float32Array, dim: number) {
  return new FeatureStatistics(dim).add(features).toGaussian();
}

export async function judgeSamples(classifier: DigitClassifier, images: tf.Tensor, labels: ArrayLike<number>, reference: Float32Array): Promise<SampleJudgement> {
  const { features, predictions } = await classify(classifier, images);
  const dim = classifier.config.feature_dim;
  let correct = 0;
  const hit = new Array(10).fill(0);
  const count = new Array(10).fill(0);
  for (let i = 0; i < predictions.length; i++) {
    count[labels[i]]++;
    if (predictions[i] === labels[i]) {
      correct++;
      hit[labels[i]]++;
    }
  }
  const fid = frechetDistance(gaussianOf(features, dim), gaussianOf(reference, dim));
  return {
    accuracy: correct / predictions.length,
    fid,
    perClass: hit.map((h, k) => (count[k] ? Number((h / count[k]).toFixed(3)) : NaN)),
    n: predictions.length,
  };
}

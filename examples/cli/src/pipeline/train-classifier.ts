// Stage "classifier": the digit classifier on the real training digits (cross-entropy, a random
// translation of up to +-2 pixels per digit as augmentation), then its held-out accuracy.
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@fae/core';
import { DigitClassifier, DEFAULT_CLASSIFIER_CONFIG } from '../models/digit-classifier.js';
import { gatherDigits, MNIST_SIZE, type DigitSet } from '../data/mnist.js';
import { BatchSampler, trainLoop, type LoopResult } from './simple-loop.js';

export interface ClassifierTrainOptions {
  train: DigitSet;
  heldOut: DigitSet;
  steps?: number;
  batch?: number;
  lr?: number;
  seed?: number;
  onProgress?: (e: { step: number; steps: number; loss: number; lr: number }) => void;
}

export interface ClassifierTrainResult extends LoopResult {
  model: DigitClassifier;
  heldOutAccuracy: number;
}

/** Grey digits as a [B, 28, 28, 1] tensor in [0, 1]. */
export function digitsToGrey(set: DigitSet): tf.Tensor4D {
  return tf.tensor4d(set.pixels, [set.labels.length, MNIST_SIZE, MNIST_SIZE, 1]);
}

/** Shifts each digit by its own random offset of up to +-2 pixels (zero fill): [B, 28, 28, 1] in [0, 1]. */
function randomShifts(set: DigitSet, rng: Rng): tf.Tensor4D {
  const n = set.labels.length;
  const s = MNIST_SIZE;
  const out = new Float32Array(n * s * s);
  for (let i = 0; i < n; i++) {
    const dy = rng.nextInt(5) - 2;
    const dx = rng.nextInt(5) - 2;
    for (let y = Math.max(0, dy); y < Math.min(s, s + dy); y++) {
      const src = i * s * s + (y - dy) * s;
      const dst = i * s * s + y * s;
      for (let x = Math.max(0, dx); x < Math.min(s, s + dx); x++) out[dst + x] = set.pixels[src + x - dx];
    }
  }
  return tf.tensor4d(out, [n, s, s, 1]);
}

export async function trainDigitClassifier(o: ClassifierTrainOptions): Promise<ClassifierTrainResult> {
  const steps = o.steps ?? 2000;
  const batch = o.batch ?? 64;
  const seed = o.seed ?? 0;
  const model = new DigitClassifier(DEFAULT_CLASSIFIER_CONFIG, seed + 1);
  const sampler = new BatchSampler(o.train.labels.length, new Rng(seed, 1));
  const result = await trainLoop({
    module: model,
    steps,
    lr: o.lr ?? 2e-3,
    seed,
    onProgress: o.onProgress,
    loss: (_step, rng) => {
      const b = gatherDigits(o.train, sampler.next(batch));
      return tf.tidy(() => {
        const x = randomShifts(b, rng);
        const { logits } = model.forward(x);
        const onehot = tf.cast(tf.oneHot(tf.tensor1d(b.labels, 'int32'), 10), 'float32'); // [B, 10]
        return tf.neg(tf.mean(tf.sum(tf.mul(onehot, tf.logSoftmax(logits)), 1))) as tf.Scalar; // cross-entropy
      });
    },
  });
  const heldOutAccuracy = await classifierAccuracy(model, o.heldOut);
  return { ...result, model, heldOutAccuracy };
}

/** Fraction of `set` the classifier labels correctly. */
export async function classifierAccuracy(model: DigitClassifier, set: DigitSet, batch = 250): Promise<number> {
  let correct = 0;
  for (let i = 0; i < set.labels.length; i += batch) {
    const n = Math.min(batch, set.labels.length - i);
    const part = { pixels: set.pixels.subarray(i * 784, (i + n) * 784), labels: set.labels.subarray(i, i + n) };
    const pred = tf.tidy(() => tf.argMax(model.forward(digitsToGrey(part)).logits, 1));
    const p = await pred.data();
    pred.dispose();
    for (let j = 0; j < n; j++) if (p[j] === part.labels[j]) correct++;
  }
  return correct / set.labels.length;
}

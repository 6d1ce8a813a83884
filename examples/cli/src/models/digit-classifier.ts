// The digit classifier that judges generated digits: a small MLP trained on the real training digits
// (an MLP rather than a CNN: tfjs-wasm's convolution gradients are slow on a 2-core CPU).
// Its predictions give the class accuracy of samples for their requested class; its penultimate
// features (128-d, after ReLU) give the "digit FID" (Frechet distance between feature Gaussians).
//
//   [B,28,28,1] -> flatten [B, 784] -> fc0 (hidden) -> ReLU -> fc1 (128) -> ReLU = features -> fc2 (10) = logits
import * as tf from '@tensorflow/tfjs-core';
import { Linear, Module, ShapeError } from '@fae/core';

export interface DigitClassifierConfig {
  model_type: 'fae-digit-classifier';
  image_size: number;
  hidden: number;
  feature_dim: number;
  num_classes: number;
}

export const DEFAULT_CLASSIFIER_CONFIG: DigitClassifierConfig = {
  model_type: 'fae-digit-classifier',
  image_size: 28,
  hidden: 256,
  feature_dim: 128,
  num_classes: 10,
};

export class DigitClassifier extends Module {
  readonly fc0: Linear;
  readonly fc1: Linear;
  readonly fc2: Linear;

  constructor(readonly config: DigitClassifierConfig = DEFAULT_CLASSIFIER_CONFIG, seed?: number) {
    super();
    const pixels = config.image_size * config.image_size;
    this.fc0 = this.addModule('fc0', new Linear(pixels, config.hidden, { seed }));
    this.fc1 = this.addModule('fc1', new Linear(config.hidden, config.feature_dim, { seed }));
    this.fc2 = this.addModule('fc2', new Linear(config.feature_dim, config.num_classes, { seed }));
  }

  /** grey: [B, 28, 28, 1] in [0, 1] -> { features [B, 128], logits [B, 10] } */
  forward(grey: tf.Tensor): { features: tf.Tensor2D; logits: tf.Tensor2D } {
    const s = this.config.image_size;
    if (grey.rank !== 4 || grey.shape[1] !== s || grey.shape[2] !== s || grey.shape[3] !== 1) {
      throw new ShapeError('DigitClassifier input', `[B, ${s}, ${s}, 1] grey values in [0, 1]`, `[${grey.shape}]`);
    }
    return tf.tidy(() => {
      const x = tf.reshape(tf.sub(tf.mul(grey, 2), 1), [grey.shape[0]!, -1]); // [B, 784] in [-1, 1]
      const h = tf.relu(this.fc0.forward(x)); // [B, hidden]
      const features = tf.relu(this.fc1.forward(h)) as tf.Tensor2D; // [B, 128]
      const logits = this.fc2.forward(features) as tf.Tensor2D; // [B, 10]
      return { features, logits };
    });
  }
}

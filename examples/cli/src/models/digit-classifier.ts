// The digit classifier that judges generated digits, trained on the real training digits. Its
// predictions give the class accuracy of samples for their requested class; its penultimate features
// (feature_dim, after ReLU) give the "digit FID" (Frechet distance between feature Gaussians).
//
// Two architectures (config `arch`; an absent `arch` is the original MLP, so older checkpoints load):
//   'cnn' (the shipped judge): [B,28,28,1] -> conv0 3x3 (c0) -> ReLU -> maxpool 2 [B,14,14,c0]
//          -> conv1 3x3 (c1) -> ReLU -> maxpool 2 [B,7,7,c1] -> flatten -> fc1 (feature_dim) -> ReLU
//          = features -> fc2 (10) = logits
//   'mlp': [B,28,28,1] -> flatten [B,784] -> fc0 (hidden) -> ReLU -> fc1 (feature_dim) -> ReLU
//          = features -> fc2 (10) = logits
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, Conv2d, Linear, maxPool2dNhwc, Module, ShapeError } from '@fae/core';

export interface DigitClassifierConfig {
  model_type: 'fae-digit-classifier';
  /** 'mlp' when absent (the first shipped judge). */
  arch?: 'mlp' | 'cnn';
  image_size: number;
  /** MLP: width of the first hidden layer. */
  hidden: number;
  /** CNN: channels of the two 3x3 convolutions. */
  conv_channels?: [number, number];
  feature_dim: number;
  num_classes: number;
}

export const MLP_CLASSIFIER_CONFIG: DigitClassifierConfig = {
  model_type: 'fae-digit-classifier',
  arch: 'mlp',
  image_size: 28,
  hidden: 256,
  feature_dim: 128,
  num_classes: 10,
};

export const DEFAULT_CLASSIFIER_CONFIG: DigitClassifierConfig = {
  model_type: 'fae-digit-classifier',
  arch: 'cnn',
  image_size: 28,
  hidden: 0,
  conv_channels: [16, 32],
  feature_dim: 128,
  num_classes: 10,
};

export class DigitClassifier extends Module {
  readonly arch: 'mlp' | 'cnn';
  readonly fc0: Linear | null = null;
  readonly conv0: Conv2d | null = null;
  readonly conv1: Conv2d | null = null;
  readonly fc1: Linear;
  readonly fc2: Linear;

  constructor(readonly config: DigitClassifierConfig = DEFAULT_CLASSIFIER_CONFIG, seed?: number) {
    super();
    this.arch = config.arch ?? 'mlp';
    const s = config.image_size;
    if (this.arch === 'cnn') {
      const [c0, c1] = config.conv_channels ?? [];
      if (!c0 || !c1 || s % 4 !== 0) throw new ConfigError('DigitClassifier', `a cnn needs conv_channels [c0, c1] and an image_size divisible by 4, got ${JSON.stringify(config.conv_channels)} and ${s}`);
      this.conv0 = this.addModule('conv0', new Conv2d(1, c0, 3, { padding: 1, seed }));
      this.conv1 = this.addModule('conv1', new Conv2d(c0, c1, 3, { padding: 1, seed: seed === undefined ? undefined : seed + 1 }));
      this.fc1 = this.addModule('fc1', new Linear((s / 4) * (s / 4) * c1, config.feature_dim, { seed }));
    } else if (this.arch === 'mlp') {
      this.fc0 = this.addModule('fc0', new Linear(s * s, config.hidden, { seed }));
      this.fc1 = this.addModule('fc1', new Linear(config.hidden, config.feature_dim, { seed }));
    } else {
      throw new ConfigError('DigitClassifier', `arch must be 'mlp' or 'cnn', got ${JSON.stringify(config.arch)}`);
    }
    this.fc2 = this.addModule('fc2', new Linear(config.feature_dim, config.num_classes, { seed }));
  }

  /** grey: [B, 28, 28, 1] in [0, 1] -> { features [B, feature_dim], logits [B, 10] } */
  forward(grey: tf.Tensor): { features: tf.Tensor2D; logits: tf.Tensor2D } {
    const s = this.config.image_size;
    if (grey.rank !== 4 || grey.shape[1] !== s || grey.shape[2] !== s || grey.shape[3] !== 1) {
      throw new ShapeError('DigitClassifier input', `[B, ${s}, ${s}, 1] grey values in [0, 1]`, `[${grey.shape}]`);
    }
    return tf.tidy(() => {
      const b = grey.shape[0]!;
      const x = tf.sub(tf.mul(grey, 2), 1) as tf.Tensor4D; // [B, 28, 28, 1] in [-1, 1]
      let h: tf.Tensor;
      if (this.arch === 'cnn') {
        const a = maxPool2dNhwc(tf.relu(this.conv0!.forward(x)), 2); // [B, 14, 14, c0]
        const c = maxPool2dNhwc(tf.relu(this.conv1!.forward(a)), 2); // [B, 7, 7, c1]
        h = tf.reshape(c, [b, -1]); // [B, 49 c1]
      } else {
        h = tf.relu(this.fc0!.forward(tf.reshape(x, [b, -1]))); // [B, hidden]
      }
      const features = tf.relu(this.fc1.forward(h)) as tf.Tensor2D; // [B, feature_dim]
      const logits = this.fc2.forward(features) as tf.Tensor2D; // [B, 10]
      return { features, logits };
    });
  }
}

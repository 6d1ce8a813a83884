// Linear probe: multinomial logistic regression on frozen features or latents (flattened),
// softmax cross-entropy + L2 weight decay, trained with Adam on seeded mini-batches on the active
// tfjs backend. Features are standardised with the training set's mean / std (optional).
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError, mulberry32 } from '@fae/core';

export interface LinearProbeOptions {
  classes: number;
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  /** L2 penalty (lambda / 2) |W|^2 added to the mean cross-entropy (default 1e-4). */
  weightDecay?: number;
  /** Standardise each feature with the training mean / std (default true). */
  standardize?: boolean;
  seed?: number;
  onEpoch?: (e: { epoch: number; loss: number }) => void;
}

/** Mean softmax cross-entropy of logits [N, C] against integer labels [N]. */
export function softmaxCrossEntropy(logits: tf.Tensor, labels: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const logp = tf.logSoftmax(logits); // [N, C]
    const onehot = tf.oneHot(tf.cast(labels, 'int32'), logits.shape[1]!); // [N, C]
    return tf.neg(tf.mean(tf.sum(tf.mul(onehot, logp), 1))) as tf.Scalar;
  });
}

export class LinearProbe {
  private constructor(
    readonly weight: tf.Variable, // [D, C]
    readonly bias: tf.Variable, // [C]
    private readonly shift: tf.Tensor | null, // [D]
    private readonly scale: tf.Tensor | null, // [D]
  ) {}

  get dim(): number {
    return this.weight.shape[0];
  }

  /** Trains on features [N, D] (or [N, ...] flattened) with labels in 0..classes-1. */
  static async train(features: tf.Tensor, labels: ArrayLike<number>, opts: LinearProbeOptions): Promise<LinearProbe> {
    const N = features.shape[0]!;
    if (labels.length !== N) throw new ShapeError('LinearProbe labels', `${N} labels (one per feature row)`, `${labels.length}`);
    const C = opts.classes;
    for (let i = 0; i < N; i++) if (!Number.isInteger(labels[i]) || labels[i] < 0 || labels[i] >= C) throw new ConfigError('LinearProbe', `label ${labels[i]} at row ${i} is not in 0..${C - 1}`);
    const x = tf.tidy(() => tf.reshape(tf.cast(features, 'float32'), [N, -1])); // [N, D]
    const D = x.shape[1]!;
    let shift: tf.Tensor | null = null;
    let scale: tf.Tensor | null = null;
    if (opts.standardize ?? true) {
      const m = tf.moments(x, 0);
      shift = m.mean;
      scale = tf.tidy(() => tf.div(1, tf.add(tf.sqrt(m.variance), 1e-6)));
      m.variance.dispose();
    }
    const xs = shift ? tf.tidy(() => tf.mul(tf.sub(x, shift!), scale!)) : tf.clone(x);
    x.dispose();
    const y = tf.tensor1d(Int32Array.from(labels), 'int32');
    const [w0, b0] = [tf.zeros([D, C]), tf.zeros([C])];
    const weight = tf.variable(w0, true); // [D, C]
    const bias = tf.variable(b0, true); // [C]
    tf.dispose([w0, b0]);
    const optimizer = tf.train.adam(opts.learningRate ?? 1e-2);
    const wd = opts.weightDecay ?? 1e-4;
    const batch = Math.min(opts.batchSize ?? 256, N);
    const rand = mulberry32(opts.seed ?? 0);
    const order = Int32Array.from({ length: N }, (_, i) => i);
    try {
      for (let epoch = 0; epoch < (opts.epochs ?? 100); epoch++) {
        for (let i = N - 1; i > 0; i--) {
          const j = Math.floor(rand() * (i + 1));
          [order[i], order[j]] = [order[j], order[i]];
        }
        let lossSum = 0;
        let steps = 0;
        for (let s = 0; s < N; s += batch) {
          const idx = order.subarray(s, Math.min(N, s + batch));
          const loss = tf.tidy(() => {
            const xb = tf.gather(xs, idx); // [b, D]
            const yb = tf.gather(y, idx); // [b]
            return optimizer.minimize(() => tf.add(softmaxCrossEntropy(tf.add(tf.matMul(xb, weight), bias), yb), tf.mul(wd / 2, tf.sum(tf.square(weight)))) as tf.Scalar, true, [weight, bias])!;
          });
          lossSum += (await loss.data())[0];
          loss.dispose();
          steps++;
        }
        opts.onEpoch?.({ epoch, loss: lossSum / steps });
      }
    } finally {
      optimizer.dispose();
      tf.dispose([xs, y]);
    }
    return new LinearProbe(weight, bias, shift, scale);
  }

  /** features [N, D] (or [N, ...]) -> logits [N, C] */
  logits(features: tf.Tensor): tf.Tensor2D {
    return tf.tidy(() => {
      let x = tf.reshape(tf.cast(features, 'float32'), [features.shape[0]!, -1]); // [N, D]
      if (x.shape[1] !== this.dim) throw new ShapeError('LinearProbe features', `${this.dim} values per row`, `[${features.shape}]`);
      if (this.shift) x = tf.mul(tf.sub(x, this.shift), this.scale!);
      return tf.add(tf.matMul(x, this.weight), this.bias) as tf.Tensor2D;
    });
  }

  /** Top-k accuracy (default top-1) on labelled features. */
  async accuracy(features: tf.Tensor, labels: ArrayLike<number>, opts: { topk?: number } = {}): Promise<number> {
    const k = opts.topk ?? 1;
    const top = tf.tidy(() => tf.topk(this.logits(features), k).indices); // [N, k]
    const idx = (await top.data()) as Int32Array;
    top.dispose();
    let hit = 0;
    for (let i = 0; i < labels.length; i++) {
      for (let j = 0; j < k; j++) {
        if (idx[i * k + j] === labels[i]) {
          hit++;
          break;
        }
      }
    }
    return hit / labels.length;
  }

  dispose(): void {
    tf.dispose([this.weight, this.bias]);
    if (this.shift) tf.dispose([this.shift, this.scale!]);
  }
}

// DiT conditioning (facebookresearch/DiT models.py, as LightningDiT uses it): sinusoidal timestep
// features and the TimestepEmbedder MLP (keys mlp.0 / mlp.2), the LabelEmbedder with its null class
// for label dropout and classifier-free guidance (key embedding_table.weight), and adaLN modulate.
// Only the diffusion models use them, so they live here rather than in @fae/core.
import * as tf from '@tensorflow/tfjs-core';
import { Embedding, Linear, Module, SequentialSlots, ShapeError, init, silu } from '@fae/core';

// ---------------------------------------------------------------------------------------------------
// Timestep embedding (DiT `TimestepEmbedder`)

/**
 * Sinusoidal timestep features [N, dim]: freqs_k = exp(-ln(maxPeriod) * k / half), k < half = dim/2,
 * columns [cos(t*freqs) | sin(t*freqs)] (DiT's order: cos first), a zero column appended when dim is odd.
 */
export function timestepEmbedding(t: tf.Tensor, dim: number, maxPeriod = 10000): tf.Tensor {
  if (t.rank !== 1) throw new ShapeError('timestepEmbedding t', '[N]', `[${t.shape}]`);
  const half = Math.floor(dim / 2);
  const freqs = new Float32Array(half);
  for (let k = 0; k < half; k++) freqs[k] = Math.exp((-Math.log(maxPeriod) * k) / half);
  return tf.tidy(() => {
    const args = tf.mul(tf.reshape(tf.cast(t, 'float32'), [-1, 1]), tf.tensor2d(freqs, [1, half])); // [N, half]
    const parts = [tf.cos(args), tf.sin(args)];
    if (dim % 2) parts.push(tf.zeros([t.shape[0], 1]));
    return tf.concat(parts, 1); // [N, dim]
  });
}

/** DiT's TimestepEmbedder: keys mlp.0 (freq -> hidden), SiLU, mlp.2 (hidden -> hidden). */
export class TimestepEmbedder extends Module {
  readonly mlp: SequentialSlots;
  readonly fc1: Linear;
  readonly fc2: Linear;
  readonly maxPeriod: number;
  constructor(readonly hiddenSize: number, readonly frequencyEmbeddingSize = 256, opts: { maxPeriod?: number; seed?: number } = {}) {
    super();
    this.maxPeriod = opts.maxPeriod ?? 10000;
    this.mlp = this.addModule('mlp', new SequentialSlots());
    const lin = (i: number, o: number) => new Linear(i, o, { weightInit: init.normal(0.02, opts.seed), biasInit: init.zeros() });
    this.fc1 = this.mlp.slot(0, lin(frequencyEmbeddingSize, hiddenSize));
    this.fc2 = this.mlp.slot(2, lin(hiddenSize, hiddenSize));
  }

  /** t: [N] -> [N, hidden] */
  forward(t: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const freq = timestepEmbedding(t, this.frequencyEmbeddingSize, this.maxPeriod); // [N, F]
      return this.fc2.forward(silu(this.fc1.forward(freq))); // [N, hidden]
    });
  }
}

// ---------------------------------------------------------------------------------------------------
// adaLN modulation

/**
 * adaLN: x * (1 + scale) + shift, with per-sample shift/scale broadcast over tokens.
 * x: [B, T, D]; shift, scale: [B, D] (shift may be null: LightningDiT's `wo_shift`) -> [B, T, D].
 */
export function modulate(x: tf.Tensor, shift: tf.Tensor | null, scale: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const [b, , d] = x.shape;
    const y = tf.mul(x, tf.add(1, tf.reshape(scale, [b, 1, d]))); // [B, T, D]
    return shift ? tf.add(y, tf.reshape(shift, [b, 1, d])) : y;
  });
}

// ---------------------------------------------------------------------------------------------------
// Class-label embedding with a null class (DiT `LabelEmbedder`)

export interface LabelEmbedOptions {
  /** Training mode: labels are dropped to the null class with probability `dropoutProb`. */
  train?: boolean;
  /** Explicit drop mask [N] (1/true = use the null class), as upstream `force_drop_ids`. */
  forceDrop?: tf.Tensor;
  /** Seed of the random drop mask in training mode (tf.randomUniform). */
  seed?: number;
}

/**
 * Key `embedding_table.weight` [numClasses + (dropoutProb > 0 ? 1 : 0), D]. Row `numClasses` is the
 * null (unconditional) class used for label dropout and classifier-free guidance.
 */
export class LabelEmbedder extends Module {
  readonly embeddingTable: Embedding;
  constructor(readonly numClasses: number, readonly hiddenSize: number, readonly dropoutProb = 0.1, opts: { seed?: number } = {}) {
    super();
    const rows = numClasses + (dropoutProb > 0 ? 1 : 0);
    this.embeddingTable = this.addModule('embedding_table', new Embedding(rows, hiddenSize, opts));
  }

  /** True when the table has a null-class row. */
  get hasNullClass(): boolean {
    return this.dropoutProb > 0;
  }

  /** labels: [N] int -> [N, D] */
  forward(labels: tf.Tensor, opts: LabelEmbedOptions = {}): tf.Tensor {
    if (labels.rank !== 1) throw new ShapeError('LabelEmbedder labels', '[N]', `[${labels.shape}]`);
    return tf.tidy(() => {
      let y = tf.cast(labels, 'int32'); // [N]
      const train = opts.train ?? this.training;
      let drop: tf.Tensor | null = null;
      if (opts.forceDrop) drop = tf.cast(opts.forceDrop, 'bool');
      else if (train && this.dropoutProb > 0) drop = tf.less(tf.randomUniform([y.shape[0]], 0, 1, 'float32', opts.seed), this.dropoutProb);
      if (drop) y = tf.where(drop, tf.fill(y.shape, this.numClasses, 'int32'), y);
      return this.embeddingTable.forward(y); // [N, D]
    });
  }
}

// One DINOv2 transformer block, structured and named as transformers' Dinov2Layer:
//   x = x + layer_scale1(attention(norm1(x)))
//   x = x + layer_scale2(mlp(norm2(x)))          (mlp: fc1/fc2 GELU MLP, or weights_in/weights_out SwiGLU)
import * as tf from '@tensorflow/tfjs-core';
import { LayerNorm, Linear, Module, activation, init } from '@fae/core';
import { multiHeadAttention } from '../attention.js';
import { dinov2FfnHidden, type Dinov2Config } from '../configs.js';

/** Dinov2SelfAttention: query / key / value projections. */
export class Dinov2SelfAttention extends Module {
  readonly query: Linear;
  readonly key: Linear;
  readonly value: Linear;
  constructor(readonly hiddenSize: number, readonly numHeads: number, qkvBias: boolean) {
    super();
    this.query = this.addModule('query', new Linear(hiddenSize, hiddenSize, { bias: qkvBias }));
    this.key = this.addModule('key', new Linear(hiddenSize, hiddenSize, { bias: qkvBias }));
    this.value = this.addModule('value', new Linear(hiddenSize, hiddenSize, { bias: qkvBias }));
  }

  /** x: [B, T, D] -> [B, T, D] (before the output projection) */
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => multiHeadAttention(this.query.forward(x), this.key.forward(x), this.value.forward(x), this.numHeads));
  }
}

/** Dinov2SelfOutput: the `dense` output projection. */
export class Dinov2SelfOutput extends Module {
  readonly dense: Linear;
  constructor(hiddenSize: number) {
    super();
    this.dense = this.addModule('dense', new Linear(hiddenSize, hiddenSize));
  }

  forward(x: tf.Tensor): tf.Tensor {
    return this.dense.forward(x);
  }
}

/** Dinov2Attention: `attention` (self-attention) + `output` (dense). */
export class Dinov2Attention extends Module {
  readonly attention: Dinov2SelfAttention;
  readonly output: Dinov2SelfOutput;
  constructor(cfg: Dinov2Config) {
    super();
    this.attention = this.addModule('attention', new Dinov2SelfAttention(cfg.hiddenSize, cfg.numAttentionHeads, cfg.qkvBias));
    this.output = this.addModule('output', new Dinov2SelfOutput(cfg.hiddenSize));
  }

  /** x: [B, T, D] -> [B, T, D] */
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.output.forward(this.attention.forward(x)));
  }
}

/** Dinov2LayerScale: per-channel scale `lambda1`. */
export class Dinov2LayerScale extends Module {
  readonly lambda1: tf.Variable; // [D]
  constructor(hiddenSize: number, value = 1) {
    super();
    this.lambda1 = this.addParameter('lambda1', [hiddenSize], init.constant(value));
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.mul(x, this.lambda1);
  }
}

/** Dinov2MLP: fc1 -> activation -> fc2. */
export class Dinov2MLP extends Module {
  readonly fc1: Linear;
  readonly fc2: Linear;
  private readonly act: (x: tf.Tensor) => tf.Tensor;
  constructor(hiddenSize: number, ffnHidden: number, act: string) {
    super();
    this.fc1 = this.addModule('fc1', new Linear(hiddenSize, ffnHidden));
    this.fc2 = this.addModule('fc2', new Linear(ffnHidden, hiddenSize));
    this.act = activation(act);
  }

  /** x: [B, T, D] -> [B, T, D] */
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.fc2.forward(this.act(this.fc1.forward(x))));
  }
}

/** Dinov2SwiGLUFFN: weights_in (gate | value halves) -> silu(gate) * value -> weights_out. */
export class Dinov2SwiGLUFFN extends Module {
  readonly weightsIn: Linear;
  readonly weightsOut: Linear;
  constructor(hiddenSize: number, readonly ffnHidden: number) {
    super();
    this.weightsIn = this.addModule('weights_in', new Linear(hiddenSize, 2 * ffnHidden));
    this.weightsOut = this.addModule('weights_out', new Linear(ffnHidden, hiddenSize));
  }

  /** x: [B, T, D] -> [B, T, D] */
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const h = this.weightsIn.forward(x); // [B, T, 2F]
      const [gate, value] = tf.split(h, 2, -1); // [B, T, F] each
      return this.weightsOut.forward(tf.mul(tf.mul(gate, tf.sigmoid(gate)), value)); // [B, T, D]
    });
  }
}

export class Dinov2Layer extends Module {
  readonly norm1: LayerNorm;
  readonly attention: Dinov2Attention;
  readonly layerScale1: Dinov2LayerScale;
  readonly norm2: LayerNorm;
  readonly mlp: Dinov2MLP | Dinov2SwiGLUFFN;
  readonly layerScale2: Dinov2LayerScale;
  constructor(cfg: Dinov2Config) {
    super();
    const d = cfg.hiddenSize;
    this.norm1 = this.addModule('norm1', new LayerNorm(d, { eps: cfg.layerNormEps }));
    this.attention = this.addModule('attention', new Dinov2Attention(cfg));
    this.layerScale1 = this.addModule('layer_scale1', new Dinov2LayerScale(d));
    this.norm2 = this.addModule('norm2', new LayerNorm(d, { eps: cfg.layerNormEps }));
    const ffn = dinov2FfnHidden(cfg);
    this.mlp = this.addModule('mlp', cfg.useSwigluFfn ? new Dinov2SwiGLUFFN(d, ffn) : new Dinov2MLP(d, ffn, cfg.hiddenAct));
    this.layerScale2 = this.addModule('layer_scale2', new Dinov2LayerScale(d));
  }

  /** x: [B, T, D] -> [B, T, D] */
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const h = tf.add(x, this.layerScale1.forward(this.attention.forward(this.norm1.forward(x)))); // [B, T, D]
      return tf.add(h, this.layerScale2.forward(this.mlp.forward(this.norm2.forward(h)))); // [B, T, D]
    });
  }
}

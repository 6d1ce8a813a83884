// TARFlow's MLP (apple/ml-tarflow `MLP`): LayerNorm then Linear -> GELU (exact) -> Linear, with
// upstream's key names norm.*, main.0.*, main.2.* (a torch Sequential whose GELU sits at index 1).
import * as tf from '@tensorflow/tfjs-core';
import { LayerNorm, Linear, Module, gelu } from '@fae/core';

/** Upstream's `main` Sequential: index 0 = Linear(C, C*e), 1 = GELU (no weights), 2 = Linear(C*e, C). */
class GeluSequential extends Module {
  readonly fc1: Linear;
  readonly fc2: Linear;
  constructor(channels: number, hidden: number, seed?: number) {
    super();
    this.fc1 = this.addModule('0', new Linear(channels, hidden, { seed }));
    this.fc2 = this.addModule('2', new Linear(hidden, channels, { seed }));
  }

  /** x: [..., C] -> [..., C] */
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.fc2.forward(gelu(this.fc1.forward(x)))); // [..., C*e] inside
  }
}

export class FlowMlp extends Module {
  readonly norm: LayerNorm;
  readonly main: GeluSequential;
  constructor(channels: number, expansion: number, opts: { seed?: number } = {}) {
    super();
    this.norm = this.addModule('norm', new LayerNorm(channels));
    this.main = this.addModule('main', new GeluSequential(channels, channels * expansion, opts.seed));
  }

  /** x: [B, T, C] -> [B, T, C] */
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.main.forward(this.norm.forward(x)));
  }
}

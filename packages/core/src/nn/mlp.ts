// MLP: fc1 -> activation -> fc2 (timm/ViT `Mlp`, key names fc1/fc2 by default).
import * as tf from '@tensorflow/tfjs-core';
import { Module } from './module.js';
import { Linear } from './linear.js';
import { activation } from './activations.js';

export interface MlpOptions {
  act?: string;
  bias?: boolean;
  /** Key names of the two layers (e.g. ['fc1', 'fc2']). */
  names?: [string, string];
  seed?: number;
}

export class Mlp extends Module {
  readonly fc1: Linear;
  readonly fc2: Linear;
  private readonly act: (x: tf.Tensor) => tf.Tensor;
  constructor(inDim: number, hiddenDim: number, outDim = inDim, opts: MlpOptions = {}) {
    super();
    const [n1, n2] = opts.names ?? ['fc1', 'fc2'];
    this.fc1 = this.addModule(n1, new Linear(inDim, hiddenDim, { bias: opts.bias, seed: opts.seed }));
    this.fc2 = this.addModule(n2, new Linear(hiddenDim, outDim, { bias: opts.bias, seed: opts.seed }));
    this.act = activation(opts.act ?? 'gelu');
  }

  /** x: [..., in] -> [..., out] */
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.fc2.forward(this.act(this.fc1.forward(x))));
  }
}

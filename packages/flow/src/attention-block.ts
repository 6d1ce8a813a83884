// One pre-norm transformer layer of a flow block (apple/ml-tarflow `AttentionBlock`):
// x + attention(x), then + mlp(x). Keys: attention.*, mlp.*.
import * as tf from '@tensorflow/tfjs-core';
import { Module } from '@fae/core';
import { FlowAttention, type FlowAttentionCallOptions } from './flow-attention.js';
import { FlowMlp } from './flow-mlp.js';

export class AttentionBlock extends Module {
  readonly attention: FlowAttention;
  readonly mlp: FlowMlp;
  constructor(channels: number, headDim: number, expansion = 4, opts: { seed?: number } = {}) {
    super();
    this.attention = this.addModule('attention', new FlowAttention(channels, headDim, opts));
    this.mlp = this.addModule('mlp', new FlowMlp(channels, expansion, opts));
  }

  /** x: [B, T, C] -> [B, T, C] */
  forward(x: tf.Tensor, opts: FlowAttentionCallOptions = {}): tf.Tensor {
    return tf.tidy(() => {
      const h = tf.add(x, this.attention.forward(x, opts)); // [B, T, C]
      return tf.add(h, this.mlp.forward(h)); // [B, T, C]
    });
  }
}

// Benchmark workloads shared by the CPU and GPU benchmarks: shapes and builders.
import * as tf from '@tensorflow/tfjs-core';
import { LayerNorm, Module, MultiHeadAttention, Mlp } from '@fae/core';

/** A pre-LN ViT block (timm layout): x + attn(norm1(x)); x + mlp(norm2(x)). */
export class VitBlock extends Module {
  readonly norm1: LayerNorm;
  readonly attn: MultiHeadAttention;
  readonly norm2: LayerNorm;
  readonly mlp: Mlp;
  constructor(dim: number, heads: number, mlpRatio = 4) {
    super();
    this.norm1 = this.addModule('norm1', new LayerNorm(dim, { eps: 1e-6 }));
    this.attn = this.addModule('attn', new MultiHeadAttention(dim, heads, { seed: 1 }));
    this.norm2 = this.addModule('norm2', new LayerNorm(dim, { eps: 1e-6 }));
    this.mlp = this.addModule('mlp', new Mlp(dim, dim * mlpRatio, dim, { seed: 2 }));
  }
  /** x: [B, T, D] -> [B, T, D] */
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const h = tf.add(x, this.attn.forward(this.norm1.forward(x)));
      return tf.add(h, this.mlp.forward(this.norm2.forward(h)));
    });
  }
}

export { readAll, readOneElement, runSettled, timeIt, type Timing } from './timing.js';

export { vitBlockFlops } from './model-flops.js';

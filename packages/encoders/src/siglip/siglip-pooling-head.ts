// SiglipMultiheadAttentionPoolingHead: a learned `probe` query attends over the tokens with a
// torch nn.MultiheadAttention (`attention.in_proj_weight` [3D, D] = q|k|v, `attention.in_proj_bias`,
// `attention.out_proj`), then x = x + mlp(layernorm(x)); the pooled output is that single token.
import * as tf from '@tensorflow/tfjs-core';
import { LayerNorm, Linear, Module, init, linear } from '@fae/core';
import { multiHeadAttention } from '../attention.js';
import type { SiglipVisionConfig } from '../configs.js';
import { SiglipMLP } from './siglip-layers.js';

/** torch.nn.MultiheadAttention (batch_first, packed in_proj, with biases). */
export class TorchMultiheadAttention extends Module {
  readonly inProjWeight: tf.Variable; // [D, 3D]
  readonly inProjBias: tf.Variable; // [3D]
  readonly outProj: Linear;
  constructor(readonly embedDim: number, readonly numHeads: number) {
    super();
    this.inProjWeight = this.addParameter('in_proj_weight', [3 * embedDim, embedDim], init.xavierUniform(), 'linear');
    this.inProjBias = this.addParameter('in_proj_bias', [3 * embedDim], init.zeros());
    this.outProj = this.addModule('out_proj', new Linear(embedDim, embedDim));
  }

  /** query [B, Tq, D], key = value [B, Tk, D] -> [B, Tq, D] */
  forward(query: tf.Tensor, keyValue: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const d = this.embedDim;
      const w = (i: number) => tf.slice(this.inProjWeight, [0, i * d], [d, d]); // [D, D]
      const b = (i: number) => tf.slice(this.inProjBias, [i * d], [d]); // [D]
      const q = linear(query, w(0), b(0)); // [B, Tq, D]
      const k = linear(keyValue, w(1), b(1)); // [B, Tk, D]
      const v = linear(keyValue, w(2), b(2)); // [B, Tk, D]
      return this.outProj.forward(multiHeadAttention(q, k, v, this.numHeads)); // [B, Tq, D]
    });
  }
}

export class SiglipMultiheadAttentionPoolingHead extends Module {
  readonly probe: tf.Variable; // [1, 1, D]
  readonly attention: TorchMultiheadAttention;
  readonly layernorm: LayerNorm;
  readonly mlp: SiglipMLP;
  constructor(readonly cfg: SiglipVisionConfig) {
    super();
    this.probe = this.addParameter('probe', [1, 1, cfg.hiddenSize], init.normal(1));
    this.attention = this.addModule('attention', new TorchMultiheadAttention(cfg.hiddenSize, cfg.numAttentionHeads));
    this.layernorm = this.addModule('layernorm', new LayerNorm(cfg.hiddenSize, { eps: cfg.layerNormEps }));
    this.mlp = this.addModule('mlp', new SiglipMLP(cfg.hiddenSize, cfg.intermediateSize, cfg.hiddenAct));
  }

  /** tokens [B, T, D] -> pooled [B, D] */
  forward(tokens: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const [b, , d] = tokens.shape;
      const probe = tf.broadcastTo(this.probe, [b, 1, d]); // [B, 1, D]
      const h = this.attention.forward(probe, tokens); // [B, 1, D]
      const out = tf.add(h, this.mlp.forward(this.layernorm.forward(h))); // [B, 1, D]
      return tf.reshape(out, [b, d]); // [B, D]
    });
  }
}

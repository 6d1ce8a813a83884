// The LightningDiT transformer block and final layer (hustvl/LightningDiT models/lightningdit.py),
// with upstream's key names: norm1, attn.{qkv,q_norm,k_norm,proj}, norm2, mlp.{w12,w3 | fc1,fc2},
// adaLN_modulation.1; final_layer.{norm_final, linear, adaLN_modulation.1}.
import * as tf from '@tensorflow/tfjs-core';
import {
  Module, Linear, LayerNorm, RMSNorm, Mlp, MultiHeadAttention, SwiGLUFFN, SequentialSlots, silu,
  type RotaryEmbedding,
} from '@fae/core';
import { modulate } from './conditioning.js';
import { lightningDiTSwiGLUHidden } from './config.js';

export interface LightningDiTBlockOptions {
  mlpRatio: number;
  useQknorm: boolean;
  useSwiglu: boolean;
  useRmsnorm: boolean;
  woShift: boolean;
}

/** LayerNorm without affine (eps 1e-6), or RMSNorm with weight (eps 1e-6): the block/final norms. */
function blockNorm(dim: number, rms: boolean): LayerNorm | RMSNorm {
  return rms ? new RMSNorm(dim, { eps: 1e-6 }) : new LayerNorm(dim, { eps: 1e-6, affine: false });
}

/** adaLN modulation: Sequential(SiLU, Linear(D, n*D)); the weights sit at index 1. */
class AdaLNModulation extends SequentialSlots {
  readonly linear: Linear;
  constructor(dim: number, chunks: number) {
    super();
    this.linear = this.slot(1, new Linear(dim, chunks * dim));
  }

  /** c: [B, D] -> [B, n*D] */
  forward(c: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.linear.forward(silu(c)));
  }
}

export class LightningDiTBlock extends Module {
  readonly norm1: LayerNorm | RMSNorm;
  readonly attn: MultiHeadAttention;
  readonly norm2: LayerNorm | RMSNorm;
  readonly mlp: SwiGLUFFN | Mlp;
  readonly adaLNModulation: AdaLNModulation;
  constructor(readonly hiddenSize: number, numHeads: number, readonly opts: LightningDiTBlockOptions) {
    super();
    const D = hiddenSize;
    this.norm1 = this.addModule('norm1', blockNorm(D, opts.useRmsnorm));
    this.attn = this.addModule('attn', new MultiHeadAttention(D, numHeads, {
      qkvBias: true,
      qkNorm: opts.useQknorm ? (opts.useRmsnorm ? 'rmsnorm' : 'layernorm') : null,
    }));
    this.norm2 = this.addModule('norm2', blockNorm(D, opts.useRmsnorm));
    const mlpHidden = Math.trunc(D * opts.mlpRatio);
    this.mlp = this.addModule('mlp', opts.useSwiglu
      ? new SwiGLUFFN(D, lightningDiTSwiGLUHidden(D, opts.mlpRatio), { layout: 'lightningdit' })
      : new Mlp(D, mlpHidden, D, { act: 'gelu_tanh' }));
    this.adaLNModulation = this.addModule('adaLN_modulation', new AdaLNModulation(D, opts.woShift ? 4 : 6));
  }

  /** x: [B, T, D], c: [B, D] -> [B, T, D] */
  forward(x: tf.Tensor, c: tf.Tensor, rope: RotaryEmbedding | null): tf.Tensor {
    return tf.tidy(() => {
      const [b, , d] = x.shape;
      const mod = this.adaLNModulation.forward(c); // [B, 6D] or [B, 4D]
      const parts = tf.split(mod, this.opts.woShift ? 4 : 6, 1); // each [B, D]
      const [shiftMsa, scaleMsa, gateMsa, shiftMlp, scaleMlp, gateMlp] = this.opts.woShift
        ? [null, parts[0], parts[1], null, parts[2], parts[3]]
        : parts;
      const gate = (g: tf.Tensor) => tf.reshape(g, [b, 1, d]); // [B, 1, D]
      const a = this.attn.forward(modulate(this.norm1.forward(x), shiftMsa, scaleMsa), { rope }); // [B, T, D]
      const h = tf.add(x, tf.mul(gate(gateMsa), a)); // [B, T, D]
      const m = this.mlp.forward(modulate(this.norm2.forward(h), shiftMlp, scaleMlp)); // [B, T, D]
      return tf.add(h, tf.mul(gate(gateMlp), m)); // [B, T, D]
    });
  }
}

export class FinalLayer extends Module {
  readonly normFinal: LayerNorm | RMSNorm;
  readonly linear: Linear;
  readonly adaLNModulation: AdaLNModulation;
  constructor(hiddenSize: number, patchSize: number, outChannels: number, useRmsnorm: boolean) {
    super();
    this.normFinal = this.addModule('norm_final', blockNorm(hiddenSize, useRmsnorm));
    this.linear = this.addModule('linear', new Linear(hiddenSize, patchSize * patchSize * outChannels));
    this.adaLNModulation = this.addModule('adaLN_modulation', new AdaLNModulation(hiddenSize, 2));
  }

  /** x: [B, T, D], c: [B, D] -> [B, T, p*p*outC] */
  forward(x: tf.Tensor, c: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const [shift, scale] = tf.split(this.adaLNModulation.forward(c), 2, 1); // 2 x [B, D]
      return this.linear.forward(modulate(this.normFinal.forward(x), shift, scale)); // [B, T, p*p*outC]
    });
  }
}

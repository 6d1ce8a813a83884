// FeatureDecoder: FAE's latent -> frozen-encoder features decoder (paper §4.2, App. D "Decoder").
//
//   z [B,h,w,c] -> in_proj c -> W [B,T,W] (+ fixed sin-cos pos_embed)
//   -> depth x LightningDiT block without adaLN:
//        x + attn(RMSNorm(x)) with 2-D RoPE on q, k;  x + SwiGLU(RMSNorm(x))
//   -> RMSNorm (-> out_proj W -> D) -> features [B,h,w,D]
//
// Keys follow LightningDiT's block names: in_proj, pos_embed, blocks.<i>.{norm1, attn.{qkv, proj},
// norm2, mlp.{w12, w3}}, norm, out_proj.
import * as tf from '@tensorflow/tfjs-core';
import {
  AxialRoPE2D, Linear, Module, ModuleList, MultiHeadAttention, RMSNorm, ShapeError, SwiGLUFFN, type RotaryEmbedding,
  sincosTable, type FeatureShaped, type LatentShaped,
} from '@fae/core';
import { featureDecoderMlpHidden, resolveFeatureDecoderConfig, type FeatureDecoderConfig } from './config.js';

export class FeatureDecoderBlock extends Module {
  readonly norm1: RMSNorm;
  readonly attn: MultiHeadAttention;
  readonly norm2: RMSNorm;
  readonly mlp: SwiGLUFFN;
  constructor(c: FeatureDecoderConfig) {
    super();
    this.norm1 = this.addModule('norm1', new RMSNorm(c.width, { eps: c.normEps }));
    this.attn = this.addModule('attn', new MultiHeadAttention(c.width, c.heads, { qkvBias: c.qkvBias }));
    this.norm2 = this.addModule('norm2', new RMSNorm(c.width, { eps: c.normEps }));
    this.mlp = this.addModule('mlp', new SwiGLUFFN(c.width, featureDecoderMlpHidden(c), { layout: 'lightningdit' }));
  }

  /** x: [B, T, W] -> [B, T, W] */
  forward(x: tf.Tensor, rope: RotaryEmbedding | null): tf.Tensor {
    return tf.tidy(() => {
      const h = tf.add(x, this.attn.forward(this.norm1.forward(x), { rope })); // [B, T, W]
      return tf.add(h, this.mlp.forward(this.norm2.forward(h))); // [B, T, W]
    });
  }
}

export class FeatureDecoder extends Module implements FeatureShaped, LatentShaped {
  readonly config: FeatureDecoderConfig;
  readonly inProj: Linear;
  readonly posEmbed: tf.Variable | null; // [1, g*g, W]
  /** RoPE tables of the configured grid (not in the state dict). */
  readonly rope: AxialRoPE2D | null;
  readonly blocks: ModuleList<FeatureDecoderBlock>;
  readonly norm: RMSNorm;
  readonly outProj: Linear | null;

  constructor(config: Partial<FeatureDecoderConfig> = {}) {
    super();
    const c = (this.config = resolveFeatureDecoderConfig(config));
    const g = c.gridSize;
    this.inProj = this.addModule('in_proj', new Linear(c.latentChannels, c.width));
    this.posEmbed = c.positions === 'sincos' ? this.addParameter('pos_embed', [1, g * g, c.width], sincosTable(c.width, g, g), 'plain', { frozen: true }) : null;
    this.rope = c.rope ? this.addModule('rope', new AxialRoPE2D(c.width / c.heads, g, g)) : null;
    this.blocks = this.addModule('blocks', new ModuleList(Array.from({ length: c.depth }, () => new FeatureDecoderBlock(c))));
    this.norm = this.addModule('norm', new RMSNorm(c.width, { eps: c.normEps }));
    this.outProj = c.outProj ? this.addModule('out_proj', new Linear(c.width, c.outputDim)) : null;
  }

  get grid(): number {
    return this.config.gridSize;
  }

  /** Width D of the features it reconstructs (= outputDim). */
  get featureDim(): number {
    return this.config.outputDim;
  }

  get latentChannels(): number {
    return this.config.latentChannels;
  }

  get outputDim(): number {
    return this.config.outputDim;
  }

  /** z: [B, h, w, c] (raw, un-normalised latents) -> reconstructed features [B, h, w, D] */
  forward(z: tf.Tensor): tf.Tensor {
    const c = this.config;
    if (z.rank !== 4 || z.shape[3] !== c.latentChannels) throw new ShapeError('latents', `[B, h, w, ${c.latentChannels}] (NHWC)`, `[${z.shape}]`);
    const [b, h, w] = z.shape;
    const other = h !== c.gridSize || w !== c.gridSize;
    const rope = this.rope && other ? new AxialRoPE2D(c.width / c.heads, h, w) : this.rope; // per-call tables for other grids
    try {
      return tf.tidy(() => {
        let x = this.inProj.forward(tf.reshape(z, [b, h * w, c.latentChannels])); // [B, T, W]
        if (this.posEmbed) x = tf.add(x, other ? sincosTable(c.width, h, w) : this.posEmbed); // [B, T, W]
        for (const block of this.blocks) x = block.forward(x, rope); // [B, T, W]
        x = this.norm.forward(x); // [B, T, W]
        if (this.outProj) x = this.outProj.forward(x); // [B, T, D]
        return tf.reshape(x, [b, h, w, c.outputDim]); // [B, h, w, D]
      });
    } finally {
      if (rope && rope !== this.rope) rope.dispose();
    }
  }
}

// SingleAttentionEncoder: FAE's encoder ("One Layer Is Enough", Gao et al. 2025, §4.1, Fig. 7).
//
//   features [B,h,w,D] -> tokens [B,T,D] (+ fixed sin-cos positions)
//   -> `depth` x { x + proj(attention(qkv(norm(x)))) [+ MLP] }     fused QKV to heads*headDim
//   -> activation -> out_proj D -> 2c -> (mean, logvar) [B,h,w,c] each; z = mean (+ sigma * eps)
//
// depth 0 is the linear baseline (out_proj only), depth 1 the paper, depth N an N-layer transformer.
// Persistent buffers `latent_mean` / `latent_std` [c] hold the per-channel latent statistics that
// normalize() / denormalize() apply; they travel with the checkpoint.
import * as tf from '@tensorflow/tfjs-core';
import {
  AxialRoPE2D, LayerNorm, Linear, Mlp, Module, ModuleList, ShapeError, activation,
  mergeHeads, scaledDotProductAttention, sincosTable, splitHeads, type FeatureShaped, type LatentShaped, type LossReduction, type RotaryEmbedding,
} from '@fae/core';
import { adapterHiddenDim, adapterMlpDim, resolveAdapterConfig, type SingleAttentionEncoderConfig } from './config.js';
import { gaussianKl, sampleGaussian, splitMoments } from './gaussian.js';
import type { LatentStats } from './latent-stats.js';

/** Anything that draws standard normal tensors (core's Rng fits). */
export interface NormalSource {
  normal(shape: number[]): tf.Tensor;
}

export interface EncodeOptions {
  /** Draw z = mean + sigma * eps (training); default false: z = mean (the mode). */
  sample?: boolean;
  /** Source of eps when sampling (default: tf.randomNormal, unseeded). */
  rng?: NormalSource;
}

export interface EncodeResult {
  /** Posterior mean [B, h, w, c]. */
  mean: tf.Tensor;
  /** Posterior log-variance [B, h, w, c], clamped. */
  logvar: tf.Tensor;
  /** The latent [B, h, w, c]: a sample when `sample`, otherwise the mean (a distinct tensor). */
  z: tf.Tensor;
}

// ------------------------------------------------------------------------------------------------
// The attention of Fig. 7: one fused QKV Linear D -> 3*heads*headDim, softmax attention with wide
// heads, output Linear heads*headDim -> D. Keys: qkv, proj.
// ------------------------------------------------------------------------------------------------
export class AdapterAttention extends Module {
  readonly qkv: Linear;
  readonly proj: Linear;
  constructor(readonly dim: number, readonly heads: number, readonly headDim: number, bias = true) {
    super();
    const hidden = heads * headDim;
    this.qkv = this.addModule('qkv', new Linear(dim, 3 * hidden, { bias }));
    this.proj = this.addModule('proj', new Linear(hidden, dim, { bias }));
  }

  /** x: [B, T, D] -> [B, T, D] */
  forward(x: tf.Tensor, rope?: RotaryEmbedding): tf.Tensor {
    return tf.tidy(() => {
      const [b, t] = x.shape;
      const hidden = this.heads * this.headDim;
      const qkv = tf.reshape(this.qkv.forward(x), [b, t, 3, hidden]); // [B, T, 3, hidden]
      const [q0, k0, v0] = tf.unstack(qkv, 2); // 3 x [B, T, hidden]
      let q = splitHeads(q0, this.heads); // [B, H, T, Dh]
      let k = splitHeads(k0, this.heads); // [B, H, T, Dh]
      const v = splitHeads(v0, this.heads); // [B, H, T, Dh]
      if (rope) {
        q = rope.forward(q);
        k = rope.forward(k);
      }
      const o = scaledDotProductAttention(q, k, v); // [B, H, T, Dh]
      return this.proj.forward(mergeHeads(o)); // [B, T, D]
    });
  }
}

/** One adapter layer: x + attn(norm1(x)), then (when mlpRatio > 0) x + mlp(norm2(x)). */
export class AdapterLayer extends Module {
  readonly norm1: LayerNorm | null;
  readonly attn: AdapterAttention;
  readonly norm2: LayerNorm | null;
  readonly mlp: Mlp | null;
  constructor(c: SingleAttentionEncoderConfig) {
    super();
    this.norm1 = c.preNorm ? this.addModule('norm1', new LayerNorm(c.inputDim, { eps: 1e-6 })) : null;
    this.attn = this.addModule('attn', new AdapterAttention(c.inputDim, c.heads, c.headDim, c.bias));
    const mlpDim = adapterMlpDim(c);
    this.norm2 = mlpDim > 0 && c.preNorm ? this.addModule('norm2', new LayerNorm(c.inputDim, { eps: 1e-6 })) : null;
    this.mlp = mlpDim > 0 ? this.addModule('mlp', new Mlp(c.inputDim, mlpDim, c.inputDim, { act: 'gelu' })) : null;
  }

  /** x: [B, T, D] -> [B, T, D] */
  forward(x: tf.Tensor, rope?: RotaryEmbedding): tf.Tensor {
    return tf.tidy(() => {
      let h = tf.add(x, this.attn.forward(this.norm1 ? this.norm1.forward(x) : x, rope)); // [B, T, D]
      if (this.mlp) h = tf.add(h, this.mlp.forward(this.norm2 ? this.norm2.forward(h) : h)); // [B, T, D]
      return h;
    });
  }
}

// ------------------------------------------------------------------------------------------------
// The encoder
// ------------------------------------------------------------------------------------------------
export class SingleAttentionEncoder extends Module implements FeatureShaped, LatentShaped {
  readonly config: SingleAttentionEncoderConfig;
  readonly posEmbed: tf.Variable | null; // [1, g*g, D]
  readonly blocks: ModuleList<AdapterLayer>;
  readonly outProj: Linear;
  /** 2-D RoPE tables of the configured grid (no state-dict entries), when positions = 'rope'. */
  readonly rope: AxialRoPE2D | null;
  private readonly act: (x: tf.Tensor) => tf.Tensor;

  constructor(config: Partial<SingleAttentionEncoderConfig> = {}) {
    super();
    const c = (this.config = resolveAdapterConfig(config));
    const g = c.gridSize;
    const table = (c.positions === 'sincos' || c.positions === 'learned') && c.depth > 0;
    // 'sincos': a fixed parameter (requires_grad=False, as DiT's); 'learned': the same table, trained.
    this.posEmbed = table ? this.addParameter('pos_embed', [1, g * g, c.inputDim], sincosTable(c.inputDim, g, g), 'plain', { frozen: c.positions === 'sincos' }) : null;
    this.rope = c.positions === 'rope' && c.depth > 0 ? this.addModule('rope', new AxialRoPE2D(c.headDim, g, g)) : null;
    this.blocks = this.addModule('blocks', new ModuleList(Array.from({ length: c.depth }, () => new AdapterLayer(c))));
    this.outProj = this.addModule('out_proj', new Linear(c.inputDim, 2 * c.latentChannels, { bias: c.bias }));
    this.addBuffer('latent_mean', tf.zeros([c.latentChannels]));
    this.addBuffer('latent_std', tf.ones([c.latentChannels]));
    this.act = activation(c.activation);
  }

  /** Tokens per side of the feature / latent map (the stored position table's grid). */
  get grid(): number {
    return this.config.gridSize;
  }

  /** Feature width D of the input features (= inputDim). */
  get featureDim(): number {
    return this.config.inputDim;
  }

  get latentChannels(): number {
    return this.config.latentChannels;
  }

  get inputDim(): number {
    return this.config.inputDim;
  }

  /** Attention width heads x headDim. */
  get hiddenDim(): number {
    return adapterHiddenDim(this.config);
  }

  /** features: [B, h, w, D] -> moments [B, h, w, 2c] (mean | raw log-variance). */
  forward(features: tf.Tensor): tf.Tensor {
    this.checkFeatures(features);
    const [b, h, w, d] = features.shape;
    const g = this.config.gridSize;
    // RoPE tables of another grid live for this call only.
    const rope = this.rope && (h !== g || w !== g) ? new AxialRoPE2D(this.config.headDim, h, w) : this.rope;
    try {
      return tf.tidy(() => {
        let x = tf.reshape(features, [b, h * w, d]); // [B, T, D]
        if (this.config.depth > 0) {
          if (this.posEmbed) x = tf.add(x, this.positionsFor(h, w)); // [B, T, D]
          for (const block of this.blocks) x = block.forward(x, rope ?? undefined); // [B, T, D]
          x = this.act(x);
        }
        const moments = this.outProj.forward(x); // [B, T, 2c]
        return tf.reshape(moments, [b, h, w, 2 * this.config.latentChannels]); // [B, h, w, 2c]
      });
    } finally {
      if (rope && rope !== this.rope) rope.dispose();
    }
  }

  /**
   * The posterior of features [B, h, w, D]: mean and (clamped) logvar [B, h, w, c], and z, a sample
   * when `sample` (training) or the mean. Latents are NOT normalised here: see normalize().
   */
  encode(features: tf.Tensor, opts: EncodeOptions = {}): EncodeResult {
    return tf.tidy(() => {
      const { mean, logvar } = splitMoments(this.forward(features), this.config.logvarClamp); // [B, h, w, c] each
      if (!opts.sample) return { mean, logvar, z: tf.mul(mean, 1) }; // a copy with its own data
      const eps = opts.rng ? opts.rng.normal(mean.shape) : tf.randomNormal(mean.shape);
      return { mean, logvar, z: sampleGaussian(mean, logvar, eps) };
    });
  }

  /** KL(q(z|x) || N(0, I)) of a posterior (see gaussianKl for the reductions). */
  kl(mean: tf.Tensor, logvar: tf.Tensor, reduction: LossReduction = 'mean'): tf.Scalar {
    return gaussianKl(mean, logvar, reduction);
  }

  /** Generator-space latents: posterior means normalised by the stored statistics. [B,h,w,D] -> [B,h,w,c] */
  latents(features: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const { mean, logvar, z } = this.encode(features);
      tf.dispose([logvar, z]);
      return this.normalize(mean);
    });
  }

  /** (z - latent_mean) / latent_std, channels last. */
  normalize(z: tf.Tensor): tf.Tensor {
    this.checkLatents(z, 'z');
    return tf.tidy(() => tf.div(tf.sub(z, this.getBuffer('latent_mean')), this.getBuffer('latent_std')));
  }

  /** z * latent_std + latent_mean, channels last (the inverse of normalize). */
  denormalize(zNormalized: tf.Tensor): tf.Tensor {
    this.checkLatents(zNormalized, 'normalized z');
    return tf.tidy(() => tf.add(tf.mul(zNormalized, this.getBuffer('latent_std')), this.getBuffer('latent_mean')));
  }

  /** Stores per-channel statistics (from computeLatentStats) in the persistent buffers. */
  setLatentStats(stats: Pick<LatentStats, 'mean' | 'std'>): void {
    const c = this.config.latentChannels;
    if (stats.mean.length !== c || stats.std.length !== c) {
      throw new ShapeError('latent stats', `mean and std of ${c} channels`, `${stats.mean.length} and ${stats.std.length}`);
    }
    this.setBuffer('latent_mean', tf.tensor1d(Float32Array.from(stats.mean)));
    this.setBuffer('latent_std', tf.tensor1d(Float32Array.from(stats.std)));
  }

  /** The stored statistics. */
  async latentStats(): Promise<{ mean: Float32Array; std: Float32Array }> {
    return {
      mean: (await this.getBuffer('latent_mean').data()) as Float32Array,
      std: (await this.getBuffer('latent_std').data()) as Float32Array,
    };
  }

  /**
   * The table for an h x w grid [1, h*w, D]: the stored one for the configured grid; otherwise the
   * sin-cos table of that grid ('sincos', exact) or the learned table bilinearly resized ('learned').
   */
  private positionsFor(h: number, w: number): tf.Tensor {
    const g = this.config.gridSize;
    const pe = this.posEmbed!;
    if (h === g && w === g) return pe;
    const d = this.config.inputDim;
    if (this.config.positions === 'sincos') return sincosTable(d, h, w); // [1, T, D]
    const grid = tf.reshape(pe, [1, g, g, d]); // [1, g, g, D]
    const resized = tf.image.resizeBilinear(grid as tf.Tensor4D, [h, w], false, true); // [1, h, w, D]
    return tf.reshape(resized, [1, h * w, d]); // [1, T, D]
  }

  private checkFeatures(x: tf.Tensor): void {
    if (x.rank !== 4 || x.shape[3] !== this.config.inputDim) {
      throw new ShapeError('features', `[B, h, w, ${this.config.inputDim}] (NHWC patch features)`, `[${x.shape}]`);
    }
  }

  private checkLatents(z: tf.Tensor, name: string): void {
    if (z.shape[z.rank - 1] !== this.config.latentChannels) {
      throw new ShapeError(name, `[..., ${this.config.latentChannels}] (channels last)`, `[${z.shape}]`);
    }
  }
}

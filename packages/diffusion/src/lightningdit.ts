// LightningDiT (hustvl/LightningDiT models/lightningdit.py): patch embedding + fixed 2-D sin-cos
// positions, optional EVA 2-D RoPE, blocks with adaLN-Zero (optionally q/k norm, SwiGLU, RMSNorm, no
// shift), final adaLN layer, unpatchify. With every option off it is SiT / DiT. State-dict keys are
// upstream's, so LightningDiT-style checkpoints load with loadStateDict (strict).
// Tensors are NHWC: forward(x [B, h, w, c], t [B], y [B]) -> [B, h, w, c] velocity.
import * as tf from '@tensorflow/tfjs-core';
import {
  Module, ModuleList, Linear, PatchEmbed, VisionRotaryEmbeddingFast, Rng, ShapeError, sincosPosEmbed2d, unpatchify, type LatentShaped,
} from '@fae/core';
import { LabelEmbedder, TimestepEmbedder } from './conditioning.js';
import { lightningDiTConfig, outChannelsOf, type LightningDiTConfig, type TimeConvention } from './config.js';
import { LightningDiTBlock, FinalLayer } from './lightningdit-block.js';
import type { VelocityModel } from './velocity-model.js';

export interface LightningDiTForwardOptions {
  /** Per-sample label drop mask [B] (1 = use the null class), upstream's `force_drop_ids`. */
  forceDrop?: tf.Tensor;
  /** Keep the learn_sigma channels (upstream's forward drops them). Default false. */
  keepSigma?: boolean;
}

export class LightningDiT extends Module implements VelocityModel, LatentShaped {
  readonly config: LightningDiTConfig;
  readonly xEmbedder: PatchEmbed;
  readonly tEmbedder: TimestepEmbedder;
  readonly yEmbedder: LabelEmbedder;
  readonly posEmbed: tf.Variable; // [1, T, D], frozen
  readonly featRope: VisionRotaryEmbeddingFast | null;
  readonly blocks: ModuleList<LightningDiTBlock>;
  readonly finalLayer: FinalLayer;
  readonly outChannels: number;

  /** Builds the model with upstream's initialisation (seeded: same weights on every backend). */
  constructor(config: Partial<LightningDiTConfig> = {}, opts: { seed?: number } = {}) {
    super();
    const c = (this.config = lightningDiTConfig(config));
    const D = c.hiddenSize;
    const grid = c.inputSize / c.patchSize;
    this.outChannels = outChannelsOf(c);
    // Registration order = upstream's, so namedParameters() lists keys as torch does.
    this.xEmbedder = this.addModule('x_embedder', new PatchEmbed(c.inChannels, D, c.patchSize));
    this.tEmbedder = this.addModule('t_embedder', new TimestepEmbedder(D));
    this.yEmbedder = this.addModule('y_embedder', new LabelEmbedder(c.numClasses, D, c.classDropoutProb));
    // A fixed table (requires_grad=False upstream): never trained, also after setTrainable(true).
    this.posEmbed = this.addParameter('pos_embed', [1, grid * grid, D], tf.tensor3d(sincosPosEmbed2d(D, grid), [1, grid * grid, D]), 'plain', { frozen: true });
    this.featRope = c.useRope ? this.addModule('feat_rope', new VisionRotaryEmbeddingFast(D / c.numHeads / 2, grid)) : null;
    const blockOpts = { mlpRatio: c.mlpRatio, useQknorm: c.useQknorm, useSwiglu: c.useSwiglu, useRmsnorm: c.useRmsnorm, woShift: c.woShift };
    this.blocks = this.addModule('blocks', new ModuleList(Array.from({ length: c.depth }, () => new LightningDiTBlock(D, c.numHeads, blockOpts))));
    this.finalLayer = this.addModule('final_layer', new FinalLayer(D, c.patchSize, this.outChannels, c.useRmsnorm));
    this.initializeWeights(opts.seed ?? 0);
  }

  get timeConvention(): TimeConvention {
    return this.config.timeConvention;
  }

  /** The null class id used for guidance, or null when the model was built without label dropout. */
  get nullClass(): number | null {
    return this.yEmbedder.hasNullClass ? this.config.numClasses : null;
  }

  /** Latent side (= inputSize; the latents are [B, grid, grid, latentChannels]). */
  get grid(): number {
    return this.config.inputSize;
  }

  /** Latent channels c (= inChannels). */
  get latentChannels(): number {
    return this.config.inChannels;
  }

  get latentShape(): [number, number, number] {
    return [this.config.inputSize, this.config.inputSize, this.config.inChannels];
  }

  /**
   * Upstream `initialize_weights`: xavier-uniform Linear weights and zero biases; patch embedding like
   * a Linear; label table N(0, 0.02); timestep MLP weights N(0, 0.02); adaLN and output layers zero.
   */
  initializeWeights(seed = 0): void {
    const rng = new Rng(seed);
    const xavier = (v: tf.Variable) => {
      const [fanIn, fanOut] = v.shape as [number, number];
      const limit = Math.sqrt(6 / (fanIn + fanOut));
      tf.tidy(() => v.assign(rng.uniform(v.shape, -limit, limit)));
    };
    const zero = (v: tf.Variable | null) => v && tf.tidy(() => v.assign(tf.zerosLike(v)));
    const normal = (v: tf.Variable, std: number) => tf.tidy(() => v.assign(rng.normal(v.shape, 0, std)));
    for (const [, m] of this.namedModules()) {
      if (m instanceof Linear) {
        xavier(m.weight);
        zero(m.bias);
      }
    }
    xavier(this.xEmbedder.proj.weight); // [p*p*C, D]: the same fans as w.view(D, -1)
    zero(this.xEmbedder.proj.bias);
    normal(this.yEmbedder.embeddingTable.weight, 0.02);
    normal(this.tEmbedder.fc1.weight, 0.02);
    normal(this.tEmbedder.fc2.weight, 0.02);
    for (const block of this.blocks) {
      zero(block.adaLNModulation.linear.weight);
      zero(block.adaLNModulation.linear.bias);
    }
    zero(this.finalLayer.adaLNModulation.linear.weight);
    zero(this.finalLayer.adaLNModulation.linear.bias);
    zero(this.finalLayer.linear.weight);
    zero(this.finalLayer.linear.bias);
  }

  /**
   * x: [B, h, w, inChannels] latents (NHWC), t: [B] times in the model's convention, y: [B] int labels
   * (numClasses = null class) -> [B, h, w, inChannels] velocity ([B, h, w, 2*inChannels] with keepSigma).
   */
  forward(x: tf.Tensor, t: tf.Tensor, y: tf.Tensor, opts: LightningDiTForwardOptions = {}): tf.Tensor {
    const c = this.config;
    const [b, h, w, ch] = x.shape;
    if (x.rank !== 4 || h !== c.inputSize || w !== c.inputSize || ch !== c.inChannels) {
      throw new ShapeError('LightningDiT x', `[B, ${c.inputSize}, ${c.inputSize}, ${c.inChannels}] (NHWC)`, `[${x.shape}]`);
    }
    if (t.rank !== 1 || t.shape[0] !== b) throw new ShapeError('LightningDiT t', `[${b}]`, `[${t.shape}]`);
    if (y.rank !== 1 || y.shape[0] !== b) throw new ShapeError('LightningDiT y', `[${b}]`, `[${y.shape}]`);
    return tf.tidy(() => {
      let tokens = tf.add(this.xEmbedder.forward(x), this.posEmbed); // [B, T, D]
      const temb = this.tEmbedder.forward(t); // [B, D]
      const yemb = this.yEmbedder.forward(y, { train: this.training, forceDrop: opts.forceDrop }); // [B, D]
      const cond = tf.add(temb, yemb); // [B, D]
      for (const block of this.blocks) tokens = block.forward(tokens, cond, this.featRope);
      const out = this.finalLayer.forward(tokens, cond); // [B, T, p*p*outC]
      const img = unpatchify(out, c.patchSize, this.outChannels); // [B, h, w, outC]
      if (!c.learnSigma || opts.keepSigma) return img;
      return tf.slice(img, [0, 0, 0, 0], [-1, -1, -1, c.inChannels]); // [B, h, w, C]: upstream's x.chunk(2)[0]
    });
  }
}

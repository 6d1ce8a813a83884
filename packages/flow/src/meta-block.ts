// One autoregressive affine flow block (apple/ml-tarflow `MetaBlock`).
//
// forward (data -> noise), on tokens x [B, T, D] in the block's order (identity or flipped):
//   h = proj_in(x) + pos_embed (+ class_embed[y]) -> causal transformer layers -> proj_out  [B, T, 2D]
//   shift by one token (token t is predicted from tokens < t; token 0 gets a = b = 0)
//   z = (x - b) * exp(-a),  logdet = -mean(a) over tokens and channels (per sample).
// reverse (noise -> data) runs token by token with a KV cache: x_{t+1} = z_{t+1} * exp(a_t) + b_t,
// where (a_t, b_t) come from the layers fed x_0..x_t; optional classifier-free guidance.
// Keys: proj_in, pos_embed [T, C], class_embed [K, 1, C], attn_blocks.<i>.*, proj_out, attn_mask [T, T].
import * as tf from '@tensorflow/tfjs-core';
import { Linear, Module, ModuleList, ShapeError, init } from '@fae/core';
import { AttentionBlock } from './attention-block.js';
import type { SequenceRotary } from './flow-attention.js';
import { guidanceWeight, guidedAffine, type GuidanceMethod, type GuideWhat } from './guidance.js';
import type { Permutation } from './permutation.js';

export interface MetaBlockOptions {
  /** Token width D (in_channels * patch^2). */
  inChannels: number;
  /** Transformer width C. */
  channels: number;
  /** Sequence length T. */
  numPatches: number;
  permutation: Permutation;
  numLayers: number;
  headDim?: number;
  expansion?: number;
  /** Affine (true, upstream default) or shift-only ("volume preserving") transform. */
  nvp?: boolean;
  /** Class embeddings (0: unconditional block). */
  numClasses?: number;
  /** Rotary positions instead of the learned pos_embed (STARFlow's `rope`). */
  rope?: SequenceRotary | null;
  seed?: number;
}

export interface BlockReverseOptions {
  /** Guidance weight w (0: none). */
  guidance?: number;
  guideWhat?: GuideWhat;
  guidanceMethod?: GuidanceMethod;
  /** Attention temperature of the unconditional pass (as upstream; the conditional pass uses 1). */
  attnTemp?: number;
  /** Weight (i + 1) / (T - 1) * w at token step i. */
  annealedGuidance?: boolean;
}

export class MetaBlock extends Module {
  readonly proj_in: Linear;
  readonly pos_embed: tf.Variable | null; // [T, C]
  readonly class_embed: tf.Variable | null; // [K, 1, C]
  readonly attn_blocks: ModuleList<AttentionBlock>;
  readonly proj_out: Linear;
  readonly permutation: Permutation;
  readonly nvp: boolean;
  readonly numPatches: number;
  readonly inChannels: number;
  readonly numClasses: number;
  private readonly rope: SequenceRotary | null;
  /** attn_mask is the lower triangle (always, for upstream checkpoints): attend causally without materialising it. */
  private maskIsCausal = true;

  constructor(opts: MetaBlockOptions) {
    super();
    const { inChannels, channels, numPatches, seed } = opts;
    this.inChannels = inChannels;
    this.numPatches = numPatches;
    this.numClasses = opts.numClasses ?? 0;
    this.nvp = opts.nvp ?? true;
    this.permutation = opts.permutation;
    this.rope = opts.rope ?? null;
    this.proj_in = this.addModule('proj_in', new Linear(inChannels, channels, { seed }));
    this.pos_embed = this.rope ? null : this.addParameter('pos_embed', [numPatches, channels], init.normal(1e-2, seed));
    this.class_embed = this.numClasses ? this.addParameter('class_embed', [this.numClasses, 1, channels], init.normal(1e-2, seed)) : null;
    const layers: AttentionBlock[] = [];
    for (let i = 0; i < opts.numLayers; i++) layers.push(new AttentionBlock(channels, opts.headDim ?? 64, opts.expansion ?? 4, { seed }));
    this.attn_blocks = this.addModule('attn_blocks', new ModuleList(layers));
    // Zero-initialised output weight: a fresh block is the identity map (bias keeps torch's default).
    this.proj_out = this.addModule('proj_out', new Linear(channels, this.nvp ? 2 * inChannels : inChannels, { seed, weightInit: init.zeros() }));
    this.addBuffer('attn_mask', tf.tidy(() => tf.linalg.bandPart(tf.ones([numPatches, numPatches]), -1, 0))); // [T, T] lower triangle
  }

  /**
   * Class embedding [B, 1, C] for labels y (a negative label gives the mean embedding, i.e.
   * unconditional), or the mean [1, 1, C] for y = null. A one-hot matmul rather than a gather, so its
   * gradient is a matmul on every backend (wasm has no UnsortedSegmentSum kernel for gather's).
   */
  classEmbedding(y: tf.Tensor | null): tf.Tensor | null {
    if (!this.class_embed) return null;
    return tf.tidy(() => {
      const k = this.numClasses;
      const table = tf.reshape(this.class_embed!, [k, -1]); // [K, C]
      if (!y) return tf.reshape(tf.mean(table, 0), [1, 1, -1]); // [1, 1, C]
      const dropped = tf.cast(tf.less(y, 0), 'float32'); // [B]
      const weights = tf.add(tf.oneHot(y, k), tf.mul(tf.expandDims(dropped, 1), 1 / k)); // [B, K] (oneHot of -1 is all zeros)
      return tf.expandDims(tf.matMul(weights, table), 1); // [B, 1, C]
    });
  }

  /**
   * Re-reads the attn_mask buffer (after loading a state dict): when it is the lower triangle, as in
   * every upstream checkpoint, forward uses causal attention (fused kernels where available);
   * otherwise the loaded mask itself, as upstream does (nonzero = attend).
   */
  async syncAttentionMask(): Promise<void> {
    const m = await this.getBuffer('attn_mask').data();
    const t = this.numPatches;
    let causal = true;
    for (let i = 0; i < t && causal; i++) for (let j = 0; j < t; j++) if ((m[i * t + j] !== 0) !== (j <= i)) { causal = false; break; }
    this.maskIsCausal = causal;
  }

  /** The attention mask as an additive mask [T, T]: 0 where attn_mask != 0, -1e9 elsewhere. */
  private additiveMask(): tf.Tensor {
    return tf.tidy(() => tf.mul(tf.cast(tf.equal(this.getBuffer('attn_mask'), 0), 'float32'), -1e9));
  }

  /** Splits proj_out's output [B, T, 2D | D] into log-scale a and shift b. */
  private affine(out: tf.Tensor): { a: tf.Tensor; b: tf.Tensor } {
    if (this.nvp) {
      const [a, b] = tf.split(out, 2, -1); // [B, T, D] each
      return { a, b };
    }
    return { a: tf.zerosLike(out), b: out };
  }

  /**
   * x: tokens [B, T, D] in raster order, y: labels [B] (int32) or null
   * -> { x: [B, T, D] (raster order), logdet: [B] } (logdet = mean log|det| per dimension).
   */
  forward(x: tf.Tensor, y: tf.Tensor | null = null): { x: tf.Tensor; logdet: tf.Tensor } {
    if (x.rank !== 3 || x.shape[1] !== this.numPatches || x.shape[2] !== this.inChannels) {
      throw new ShapeError('MetaBlock input x', `[B, ${this.numPatches}, ${this.inChannels}]`, `[${x.shape}]`);
    }
    return tf.tidy(() => {
      const xIn = this.permutation.apply(x, 1); // [B, T, D]
      let h = this.proj_in.forward(xIn); // [B, T, C]
      if (this.pos_embed) h = tf.add(h, this.permutation.apply(this.pos_embed, 0));
      const cls = this.classEmbedding(y);
      if (cls) h = tf.add(h, cls);
      const masking = this.maskIsCausal ? { causal: true } : { mask: this.additiveMask() };
      for (const layer of this.attn_blocks) h = layer.forward(h, { ...masking, rope: this.rope });
      const out = this.proj_out.forward(h); // [B, T, 2D]
      const [b, t, d2] = out.shape as [number, number, number];
      const shifted = tf.concat([tf.zeros([b, 1, d2]), tf.slice(out, [0, 0, 0], [b, t - 1, d2])], 1); // [B, T, 2D]
      const { a, b: shift } = this.affine(shifted);
      const z = tf.mul(tf.sub(xIn, shift), tf.exp(tf.neg(a))); // [B, T, D]
      return { x: this.permutation.invert(z, 1), logdet: tf.neg(tf.mean(a, [1, 2])) };
    });
  }

  /**
   * One reverse step (upstream `reverse_step`): token i [B, 1, D] (already in the block's order) ->
   * the affine parameters of token i + 1, { a, b } each [B, 1, D]. Needs sample mode (KV caches).
   */
  reverseStep(token: tf.Tensor, pos: tf.Tensor | null, i: number, y: tf.Tensor | null, attnTemp = 1, whichCache = 'cond'): { a: tf.Tensor; b: tf.Tensor } {
    return tf.tidy(() => this.reverseStepWith(token, pos, i, this.classEmbedding(y), attnTemp, whichCache));
  }

  /** reverseStep with the class embedding [B | 1, 1, C] (or null) already computed. */
  private reverseStepWith(token: tf.Tensor, pos: tf.Tensor | null, i: number, cls: tf.Tensor | null, attnTemp: number, whichCache: string): { a: tf.Tensor; b: tf.Tensor } {
    return tf.tidy(() => {
      let h = this.proj_in.forward(token); // [B, 1, C]
      if (pos) h = tf.add(h, tf.slice(pos, [i, 0], [1, -1]));
      if (cls) h = tf.add(h, cls);
      for (const layer of this.attn_blocks) h = layer.forward(h, { temp: attnTemp, whichCache, rope: this.rope });
      return this.affine(this.proj_out.forward(h)); // [B, 1, D] each
    });
  }

  /** Sample mode of every attention layer: on = fresh KV caches, off = caches freed. */
  setSampleMode(on: boolean): void {
    for (const layer of this.attn_blocks) layer.attention.setSampleMode(on);
  }

  /**
   * Reverse (noise -> data) as a generator that yields after each token, so callers can report
   * progress or yield to the event loop; returns x [B, T, D] in raster order. `z` is not taken.
   * Drain it with `runToEnd`, or use `reverse`.
   */
  *reverseSteps(z: tf.Tensor, y: tf.Tensor | null = null, opts: BlockReverseOptions = {}): Generator<number, tf.Tensor, void> {
    const guidance = opts.guidance ?? 0;
    const guideWhat = opts.guideWhat ?? 'ab';
    const guided = guidance > 0 && guideWhat !== '';
    const T = z.shape[1]!;
    const tokens = tf.tidy(() => tf.split(this.permutation.apply(z, 1), T, 1)); // T x [B, 1, D]
    const pos = this.pos_embed ? tf.tidy(() => this.permutation.apply(this.pos_embed!, 0)) : null; // [T, C]
    const clsCond = this.classEmbedding(y); // [B, 1, C] (or null), the same for every token
    const clsUncond = guided ? this.classEmbedding(null) : null; // [1, 1, C]
    this.setSampleMode(true);
    try {
      for (let i = 0; i < T - 1; i++) {
        const next = tf.tidy(() => {
          const cond = this.reverseStepWith(tokens[i], pos, i, clsCond, 1, 'cond');
          if (!guided) return tf.add(tf.mul(tokens[i + 1], tf.exp(cond.a)), cond.b); // [B, 1, D]
          const uncond = this.reverseStepWith(tokens[i], pos, i, clsUncond, opts.attnTemp ?? 1, 'uncond');
          const w = guidanceWeight(guidance, i, T, opts.annealedGuidance ?? false);
          const { scale, shift } = guidedAffine(cond, uncond, w, opts.guidanceMethod ?? 'tarflow', guideWhat);
          return tf.add(tf.mul(tokens[i + 1], scale), shift); // [B, 1, D]
        });
        tokens[i + 1].dispose();
        tokens[i + 1] = next;
        yield i;
      }
      return tf.tidy(() => this.permutation.invert(tf.concat(tokens, 1), 1)); // [B, T, D]
    } finally {
      this.setSampleMode(false);
      tf.dispose(tokens);
      tf.dispose([pos, clsCond, clsUncond].filter((t): t is tf.Tensor => t !== null));
    }
  }

  /** Reverse (noise -> data) of tokens z [B, T, D] -> x [B, T, D]; see reverseSteps. */
  reverse(z: tf.Tensor, y: tf.Tensor | null = null, opts: BlockReverseOptions = {}): tf.Tensor {
    return runToEnd(this.reverseSteps(z, y, opts));
  }
}

/** Runs a generator to its end and returns its result. */
export function runToEnd<R>(gen: Generator<unknown, R, void>): R {
  for (;;) {
    const r = gen.next();
    if (r.done) return r.value;
  }
}

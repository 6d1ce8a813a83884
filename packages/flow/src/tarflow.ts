// TarFlow: a stack of autoregressive affine flow blocks over patch tokens (apple/ml-tarflow `Model`),
// with STARFlow's options (deep-shallow layer counts, RoPE, top-only conditioning, its guidance).
//
//   forward  x [B, H, W, C] (NHWC) -> patchify -> tokens [B, T, D] -> blocks (identity / flip order
//            alternating) -> z [B, T, D], the output of every block, and logdet [B]
//            (sum over blocks of the mean log|det| per dimension, as upstream).
//   reverse  z [B, T, D] -> z * sqrt(var) -> blocks in reverse order, token by token with KV caches
//            -> unpatchify -> x [B, H, W, C].
// Tokens use upstream's patch layout (torch `unfold`): D index = c * p^2 + i * p + j for pixel (i, j)
// of the patch, tokens in raster order of patches, so upstream checkpoints load unchanged.
// Keys: blocks.<i>.* (see MetaBlock), var [T, D] (the prior variance, learned in shift-only mode).
import * as tf from '@tensorflow/tfjs-core';
import { Module, ModuleList, ShapeError, type LatentShaped, type LoadReport, type LoadStateDictOptions, type StateDictInput } from '@fae/core';
import { resolveConfig, type ResolvedTarFlowConfig, type TarFlowConfig } from './config.js';
import { MetaBlock, type BlockReverseOptions } from './meta-block.js';
import { permutationForBlock } from './permutation.js';
import { createSequenceRope } from './rope.js';

/** Class labels: int32 tensor [B], an array, or null/undefined for unconditional. Negative = no label. */
export type Labels = tf.Tensor | ArrayLike<number> | null | undefined;

export interface ReverseOptions extends BlockReverseOptions {
  /** Called after every generated token (by reverse(); reverseSteps() yields the events instead). */
  onProgress?: (e: FlowProgress) => void;
}

/** Progress of a reverse pass; `step`/`steps` as @fae/diffusion's sampler progress. */
export interface FlowProgress {
  /** Token steps done over all blocks, 1 .. steps. */
  step: number;
  /** Token steps of the whole pass: blocks x (T - 1). */
  steps: number;
  /** Index of the block being inverted (forward order; reverse visits numBlocks-1 first). */
  block: number;
  /** Token step within the block, 0 .. T-2. */
  token: number;
  /** Token steps per block (T - 1). */
  tokensPerBlock: number;
}

export interface FlowForwardResult {
  /** Latent tokens [B, T, D]. */
  z: tf.Tensor;
  /** Output of each block [B, T, D] (the last equals z). */
  outputs: tf.Tensor[];
  /** Sum over blocks of mean log|det J| per dimension: [B]. */
  logdet: tf.Tensor;
}

export class TarFlow extends Module implements LatentShaped {
  /** Weight of the prior-variance update (upstream `VAR_LR`). */
  static readonly VAR_LR = 0.1;
  readonly config: ResolvedTarFlowConfig;
  readonly blocks: ModuleList<MetaBlock>;
  /** Tokens per image T. */
  readonly numPatches: number;
  /** Token width D = C p^2. */
  readonly tokenDim: number;
  /** Patches per side (imgSize / patchSize). */
  readonly gridSize: number;

  constructor(config: TarFlowConfig) {
    super();
    const c = (this.config = resolveConfig(config));
    this.gridSize = c.imgSize / c.patchSize;
    this.numPatches = this.gridSize ** 2;
    this.tokenDim = c.inChannels * c.patchSize ** 2;
    const rope = c.rope ? createSequenceRope(c.headDim, this.gridSize) : null;
    const blocks: MetaBlock[] = [];
    for (let i = 0; i < c.numBlocks; i++) {
      const conditional = !c.condTopOnly || i === c.numBlocks - 1;
      blocks.push(new MetaBlock({
        inChannels: this.tokenDim, channels: c.channels, numPatches: this.numPatches, permutation: permutationForBlock(i),
        numLayers: c.layersPerBlock[i], headDim: c.headDim, expansion: c.expansion, nvp: c.nvp,
        numClasses: conditional ? c.numClasses : 0, rope, seed: c.seed === undefined ? undefined : c.seed + 1000 * i,
      }));
    }
    this.blocks = this.addModule('blocks', new ModuleList(blocks));
    if (rope) this.addModule('feat_rope', rope); // tables only: no state-dict keys
    this.addBuffer('var', tf.ones([this.numPatches, this.tokenDim])); // [T, D]
  }

  /** Loads weights by upstream key (strict by default), then checks each block's attn_mask. */
  override async loadStateDict(input: StateDictInput, opts: LoadStateDictOptions = {}): Promise<LoadReport> {
    const report = await super.loadStateDict(input, opts);
    for (const block of this.blocks) await block.syncAttentionMask();
    return report;
  }

  /** The prior variance buffer `var` [T, D] (ones for affine models, as upstream). */
  get priorVariance(): tf.Tensor {
    return this.getBuffer('var');
  }

  /** Latent side (= imgSize; the transformer sees gridSize = imgSize / patchSize tokens per side). */
  get grid(): number {
    return this.config.imgSize;
  }

  /** Latent channels c (= inChannels). */
  get latentChannels(): number {
    return this.config.inChannels;
  }

  /** Latent shape [h, w, c] of one sample at the NHWC boundary. */
  get latentShape(): [number, number, number] {
    return [this.config.imgSize, this.config.imgSize, this.config.inChannels];
  }

  // ---------------------------------------------------------------- patches

  /** x: [B, H, W, C] -> tokens [B, T, C p^2] (upstream `patchify`, torch unfold order). */
  patchify(x: tf.Tensor): tf.Tensor {
    const { imgSize: s, inChannels: c, patchSize: p } = this.config;
    if (x.rank !== 4 || x.shape[1] !== s || x.shape[2] !== s || x.shape[3] !== c) {
      throw new ShapeError('TarFlow input x', `[B, ${s}, ${s}, ${c}] (NHWC)`, `[${x.shape}]`);
    }
    return tf.tidy(() => {
      const b = x.shape[0]!;
      const g = this.gridSize;
      const rows = tf.reshape(x, [b * g, p, g, p, c]); // [B*h, p, w, p, C]
      const patches = tf.transpose(rows, [0, 2, 4, 1, 3]); // [B*h, w, C, p, p]
      return tf.reshape(patches, [b, g * g, c * p * p]); // [B, T, D]
    });
  }

  /** tokens [B, T, C p^2] -> x [B, H, W, C] (upstream `unpatchify`). */
  unpatchify(tokens: tf.Tensor): tf.Tensor {
    if (tokens.rank !== 3 || tokens.shape[1] !== this.numPatches || tokens.shape[2] !== this.tokenDim) {
      throw new ShapeError('TarFlow tokens', `[B, ${this.numPatches}, ${this.tokenDim}]`, `[${tokens.shape}]`);
    }
    return tf.tidy(() => {
      const { inChannels: c, patchSize: p, imgSize: s } = this.config;
      const b = tokens.shape[0]!;
      const g = this.gridSize;
      const patches = tf.reshape(tokens, [b * g, g, c, p, p]); // [B*h, w, C, p, p]
      const rows = tf.transpose(patches, [0, 3, 1, 4, 2]); // [B*h, p, w, p, C]
      return tf.reshape(rows, [b, s, s, c]); // [B, H, W, C]
    });
  }

  // ---------------------------------------------------------------- flow

  /** x: [B, H, W, C] (NHWC), y: labels [B] -> { z [B, T, D], outputs, logdet [B] }. */
  forward(x: tf.Tensor, y?: Labels): FlowForwardResult {
    return tf.tidy(() => {
      const labels = toLabels(y, x.shape[0]!);
      let h = this.patchify(x); // [B, T, D]
      const outputs: tf.Tensor[] = [];
      let logdet: tf.Tensor = tf.zeros([x.shape[0]!]);
      for (const block of this.blocks) {
        const r = block.forward(h, labels);
        h = r.x;
        logdet = tf.add(logdet, r.logdet);
        outputs.push(h);
      }
      return { z: h, outputs, logdet };
    });
  }

  /**
   * Reverse as a generator yielding a FlowProgress after every token: z [B, T, D] (not taken) ->
   * x [B, H, W, C]. Guidance applies to every conditional block (TARFlow), or only to the deep last
   * block when condTopOnly (STARFlow).
   */
  *reverseSteps(z: tf.Tensor, y?: Labels, opts: ReverseOptions = {}): Generator<FlowProgress, tf.Tensor, void> {
    if (z.rank !== 3 || z.shape[1] !== this.numPatches || z.shape[2] !== this.tokenDim) {
      throw new ShapeError('TarFlow reverse z', `[B, ${this.numPatches}, ${this.tokenDim}] (tokens)`, `[${z.shape}]`);
    }
    const labels = toLabels(y, z.shape[0]!);
    const tokensPerBlock = this.numPatches - 1;
    const steps = tokensPerBlock * this.blocks.length;
    let x = tf.tidy(() => tf.mul(z, tf.sqrt(this.priorVariance))); // [B, T, D]
    let step = 0;
    let gen: Generator<number, tf.Tensor, void> | null = null;
    try {
      for (let bi = this.blocks.length - 1; bi >= 0; bi--) {
        const block = this.blocks.at(bi);
        const guided = !this.config.condTopOnly || bi === this.blocks.length - 1;
        const blockOpts = guided ? opts : { ...opts, guidance: 0 };
        gen = block.reverseSteps(x, block.numClasses ? labels : null, blockOpts);
        let r = gen.next();
        while (!r.done) {
          step++;
          yield { step, steps, block: bi, token: r.value, tokensPerBlock };
          r = gen.next();
        }
        x.dispose();
        x = r.value;
      }
      const out = this.unpatchify(x); // [B, H, W, C]
      return out;
    } finally {
      gen?.return(undefined as unknown as tf.Tensor); // an abandoned block frees its caches and tokens
      x.dispose();
      labels?.dispose();
    }
  }

  /** Noise tokens z [B, T, D], labels y -> samples x [B, H, W, C] (upstream `reverse`). */
  reverse(z: tf.Tensor, y?: Labels, opts: ReverseOptions = {}): tf.Tensor {
    const gen = this.reverseSteps(z, y, opts);
    try {
      for (;;) {
        const r = gen.next();
        if (r.done) return r.value;
        opts.onProgress?.(r.value);
      }
    } finally {
      gen.return(undefined as unknown as tf.Tensor); // frees caches if a callback threw
    }
  }

  // ---------------------------------------------------------------- likelihood and training

  /** Upstream's training loss: 0.5 mean(z^2) - mean(logdet) (per-dimension NLL up to a constant). */
  loss(z: tf.Tensor, logdet: tf.Tensor): tf.Tensor {
    return tf.tidy(() => tf.sub(tf.mul(0.5, tf.mean(tf.square(z))), tf.mean(logdet)));
  }

  /**
   * Exact negative log-likelihood in nats of each sample x [B, H, W, C] -> [B], under the prior
   * N(0, var) the sampler uses (var = 1 for affine models, as upstream trains them):
   * NLL = 0.5 sum(z^2 / var + log var + log 2 pi) - D_total * logdet.
   */
  nll(x: tf.Tensor, y?: Labels): tf.Tensor {
    return tf.tidy(() => {
      const { z, logdet } = this.forward(x, y);
      const n = this.numPatches * this.tokenDim;
      const v = this.priorVariance;
      const quad = tf.sum(tf.div(tf.square(z), v), [1, 2]); // [B]
      const logVar = tf.sum(tf.log(v)); // []
      return tf.sub(tf.mul(0.5, tf.add(quad, tf.add(logVar, n * Math.log(2 * Math.PI)))), tf.mul(n, logdet));
    });
  }

  /**
   * Bits per dimension of x [B, H, W, C] -> [B]: nll / (D ln 2). With `binWidth` (data quantised in
   * bins of that width, e.g. 2/256 for 8-bit data in [-1, 1]) it is the discrete bpd of the
   * dequantised data, as upstream evaluate_bpd.py (k = 1 / binWidth = 128).
   */
  bitsPerDim(x: tf.Tensor, y?: Labels, opts: { binWidth?: number } = {}): tf.Tensor {
    return tf.tidy(() => {
      const n = this.numPatches * this.tokenDim;
      let nats = this.nll(x, y);
      if (opts.binWidth !== undefined) nats = tf.sub(nats, n * Math.log(opts.binWidth));
      return tf.div(nats, n * Math.LN2);
    });
  }

  /** Moves the prior variance toward mean_B(z^2): var += VAR_LR (mean z^2 - var) (upstream `update_prior`). */
  updatePrior(z: tf.Tensor): void {
    const next = tf.tidy(() => {
      const z2 = tf.mean(tf.square(z), 0); // [T, D]
      const v = this.priorVariance;
      return tf.add(v, tf.mul(TarFlow.VAR_LR, tf.sub(z2, v)));
    });
    this.setBuffer('var', next);
  }
}

/** Labels as int32 [B] (or null), checking the batch size. */
export function toLabels(y: Labels, batch: number): tf.Tensor | null {
  if (y === null || y === undefined) return null;
  const t = y instanceof tf.Tensor ? (y.dtype === 'int32' ? tf.clone(y) : tf.cast(y, 'int32')) : tf.tensor1d(Array.from(y), 'int32');
  if (t.rank !== 1 || t.shape[0] !== batch) {
    const shape = t.shape;
    t.dispose();
    throw new ShapeError('labels y', `[${batch}]`, `[${shape}]`);
  }
  return t;
}

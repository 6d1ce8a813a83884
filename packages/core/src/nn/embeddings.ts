// Embeddings and small ops of DiT-family transformers (facebookresearch/DiT models.py, MAE pos_embed.py,
// timm PatchEmbed), each matching the reference's exact ordering so published weights and tables agree.
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError } from '../errors.js';
import { Module } from './module.js';
import { init } from './init.js';

// ---------------------------------------------------------------------------------------------------
// Fixed 2-D sin-cos position table (MAE / DiT `get_2d_sincos_pos_embed`)

/** 1-D table [M, D]: for omega_k = 1 / 10000^(k / (D/2)), columns [sin(p*omega) | cos(p*omega)] (float64). */
export function sincosPosEmbed1d(embedDim: number, positions: ArrayLike<number>): Float64Array {
  if (embedDim % 2 !== 0) throw new ConfigError('sincosPosEmbed1d', `embed dim must be even, got ${embedDim}`);
  const half = embedDim / 2;
  const out = new Float64Array(positions.length * embedDim);
  for (let m = 0; m < positions.length; m++) {
    for (let k = 0; k < half; k++) {
      const a = positions[m] * (1 / Math.pow(10000, k / half));
      out[m * embedDim + k] = Math.sin(a);
      out[m * embedDim + half + k] = Math.cos(a);
    }
  }
  return out;
}

/**
 * The DiT/MAE 2-D table [gridH*gridW, D] as float32, tokens row-major. As upstream (`np.meshgrid(grid_w,
 * grid_h)`), the FIRST D/2 channels encode the COLUMN index and the last D/2 the ROW index.
 * `extraTokens` zero rows are prepended (MAE's cls token).
 */
export function sincosPosEmbed2d(embedDim: number, grid: number | [number, number], opts: { extraTokens?: number } = {}): Float32Array {
  if (embedDim % 4 !== 0) throw new ConfigError('sincosPosEmbed2d', `embed dim must be divisible by 4, got ${embedDim}`);
  const [gh, gw] = typeof grid === 'number' ? [grid, grid] : grid;
  const cols: number[] = [];
  const rows: number[] = [];
  for (let i = 0; i < gh; i++) for (let j = 0; j < gw; j++) {
    cols.push(j);
    rows.push(i);
  }
  const half = embedDim / 2;
  const embCol = sincosPosEmbed1d(half, cols); // [T, D/2]
  const embRow = sincosPosEmbed1d(half, rows); // [T, D/2]
  const extra = opts.extraTokens ?? 0;
  const out = new Float32Array((extra + gh * gw) * embedDim);
  for (let t = 0; t < gh * gw; t++) {
    const o = (extra + t) * embedDim;
    for (let k = 0; k < half; k++) {
      out[o + k] = embCol[t * half + k];
      out[o + half + k] = embRow[t * half + k];
    }
  }
  return out;
}

/** The weight-holding slots of an nn.Sequential: children at numeric keys ('0', '2', ...). */
export class SequentialSlots extends Module {
  slot<M extends Module>(index: number, m: M): M {
    return this.addModule(String(index), m);
  }
}

// ---------------------------------------------------------------------------------------------------
// Patch embedding (timm PatchEmbed: Conv2d(kernel = stride = patch), flatten, transpose)

/**
 * Patch embedding as one matmul. Key `proj.weight` (torch Conv2d OIHW [D, C, p, p], stored in the
 * 'conv2d-matmul' layout [p*p*C, D]) and `proj.bias` [D]. x: [B, H, W, C] -> [B, (H/p)*(W/p), D],
 * tokens row-major as timm's flatten(2).transpose(1, 2).
 */
export class PatchEmbed extends Module {
  readonly proj: PatchProjection;
  constructor(readonly inChannels: number, readonly embedDim: number, readonly patchSize: number, opts: { bias?: boolean; seed?: number } = {}) {
    super();
    this.proj = this.addModule('proj', new PatchProjection(inChannels, embedDim, patchSize, opts));
  }

  /** x: [B, H, W, C] -> [B, T, D] */
  forward(x: tf.Tensor): tf.Tensor {
    const p = this.patchSize;
    const [b, h, w, c] = x.shape;
    if (x.rank !== 4 || c !== this.inChannels || h % p !== 0 || w % p !== 0) {
      throw new ShapeError('PatchEmbed input', `[B, H, W, ${this.inChannels}] with H, W multiples of ${p}`, `[${x.shape}]`);
    }
    return tf.tidy(() => {
      const patches = patchify(x, p); // [B, T, p*p*C]
      const y = tf.matMul(tf.reshape(patches, [-1, p * p * c]), this.proj.weight); // [B*T, D]
      const yb = this.proj.bias ? tf.add(y, this.proj.bias) : y;
      return tf.reshape(yb, [b, (h / p) * (w / p), this.embedDim]); // [B, T, D]
    });
  }
}

/** The `proj` conv of PatchEmbed, held as a matmul weight. */
export class PatchProjection extends Module {
  readonly weight: tf.Variable; // [p*p*C, D]
  readonly bias: tf.Variable | null; // [D]
  constructor(inChannels: number, embedDim: number, patchSize: number, opts: { bias?: boolean; seed?: number } = {}) {
    super();
    const fanIn = inChannels * patchSize * patchSize;
    this.weight = this.addParameter('weight', [embedDim, inChannels, patchSize, patchSize], init.xavierUniform(opts.seed), 'conv2d-matmul');
    this.bias = opts.bias === false ? null : this.addParameter('bias', [embedDim], init.torchDefault(fanIn, opts.seed));
  }
}

/** [B, H, W, C] -> [B, (H/p)*(W/p), p*p*C], each patch flattened in (row, col, channel) order. */
export function patchify(x: tf.Tensor, p: number): tf.Tensor {
  const [b, h, w, c] = x.shape;
  return tf.tidy(() => {
    const g = tf.reshape(x, [b, h / p, p, w / p, p, c]); // [B, h, p, w, p, C]
    const t = tf.transpose(g, [0, 1, 3, 2, 4, 5]); // [B, h, w, p, p, C]
    return tf.reshape(t, [b, (h / p) * (w / p), p * p * c]); // [B, T, p*p*C]
  });
}

/**
 * Inverse of patchify, the DiT `unpatchify` in NHWC: x [B, gridH*gridW, p*p*C] (each token's vector in
 * (row, col, channel) order, as DiT's reshape(N, h, w, p, p, c)) -> [B, gridH*p, gridW*p, C].
 * `grid` defaults to a square grid.
 */
export function unpatchify(x: tf.Tensor, patchSize: number, channels: number, grid?: [number, number]): tf.Tensor {
  const [b, t, d] = x.shape;
  const p = patchSize;
  const side = Math.round(Math.sqrt(t));
  const [gh, gw] = grid ?? [side, side];
  if (x.rank !== 3 || d !== p * p * channels || gh * gw !== t) {
    throw new ShapeError('unpatchify input', `[B, ${grid ? gh * gw : 'a square number of tokens'}, ${p * p * channels}]`, `[${x.shape}]`);
  }
  return tf.tidy(() => {
    const g = tf.reshape(x, [b, gh, gw, p, p, channels]); // [B, h, w, p, p, C]
    const t2 = tf.transpose(g, [0, 1, 3, 2, 4, 5]); // [B, h, p, w, p, C]
    return tf.reshape(t2, [b, gh * p, gw * p, channels]); // [B, H, W, C]
  });
}

/** nn.Embedding: key `weight` [num, dim]; forward gathers rows (ids must be in [0, num)). */
export class Embedding extends Module {
  readonly weight: tf.Variable; // [num, dim]
  constructor(readonly numEmbeddings: number, readonly embeddingDim: number, opts: { seed?: number } = {}) {
    super();
    this.weight = this.addParameter('weight', [numEmbeddings, embeddingDim], init.normal(0.02, opts.seed));
  }

  /** ids: [...] int -> [..., dim] */
  forward(ids: tf.Tensor): tf.Tensor {
    return tf.tidy(() => embeddingLookup(this.weight, ids));
  }
}

/**
 * Rows of `table` [num, dim] for `ids` [...] -> [..., dim]. The gradient w.r.t. the table is
 * onehot(ids)^T @ dy (a matmul), not tf.gather's UnsortedSegmentSum, which the wasm backend lacks.
 * (The one-hot is made int32 and cast: wasm's OneHot with dtype 'float32' writes integer bits.)
 */
export function embeddingLookup(table: tf.Tensor, ids: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const [num, dim] = table.shape as [number, number];
    const flat = tf.reshape(tf.cast(ids, 'int32'), [-1]); // [N]
    const lookup = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
      const [t, save] = args as [tf.Tensor, tf.GradSaveFunc];
      save([flat]);
      return {
        value: tf.gather(t, flat), // [N, dim]
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.matMul(tf.cast(tf.oneHot(saved[0], num), 'float32'), dy, true, false), // [num, dim]
      };
    });
    return tf.reshape(lookup(table), [...ids.shape, dim]); // [..., dim]
  });
}

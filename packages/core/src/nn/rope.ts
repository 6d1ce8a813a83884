// 2-D rotary position embeddings applied to queries/keys [B, H, T, Dh], tokens in row-major order
// (token = row * W + col, what patch embedding produces).
//
// (a) VisionRotaryEmbeddingFast: EVA-02's table as used by LightningDiT (models/pos_embed.py). With
//     `dim` = head_dim / 2: per-axis frequencies f_k = 1 / theta^(2k / dim), k < dim/2 ('lang'), positions
//     p = arange(ft) / ft * pt, each frequency repeated twice (interleaved pairs), the first head_dim/2
//     channels rotated by the ROW position and the last head_dim/2 by the COLUMN position. The cos/sin
//     tables are persistent buffers `freqs_cos` / `freqs_sin` [ft*ft, head_dim] (they are in upstream
//     checkpoints). rotate_half is the interleaved one: (x0, x1) -> (-x1, x0) on channel pairs (2i, 2i+1).
// (b) AxialRoPE2D: the plain axial 2-D RoPE: the first half of the head dim rotated by the row index and
//     the second half by the column index (integer positions), per-axis frequencies 1 / theta^(2k / (Dh/2)),
//     channel pairs either interleaved (2i, 2i+1) or split-half within each axis part (i, i + Dh/4, the
//     GPT-NeoX/LLaMA-HF "rotate_half"). Its tables are computed, not stored in state dicts.
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError } from '../errors.js';
import { Module } from './module.js';

/** Anything that rotates q or k: [B, H, T, Dh] -> [B, H, T, Dh]. */
export interface RotaryEmbedding {
  forward(x: tf.Tensor): tf.Tensor;
}

/** How channels are paired for rotation: (2i, 2i+1) or (i, i + n/2) within each group. */
export type RotaryPairing = 'interleaved' | 'half';

// ---------------------------------------------------------------------------------------------------
// Shared ops

/** Interleaved rotate_half: pairs (x[2i], x[2i+1]) -> (-x[2i+1], x[2i]) over the last axis. */
export function rotateHalfInterleaved(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const d = x.shape[x.rank - 1];
    const rows = tf.reshape(x, [-1, d]); // [N, D]
    return tf.reshape(tf.matMul(rows, rotationMatrix(d)), x.shape); // [..., D]
  });
}

const rotations = new Map<number, Float32Array>();

/**
 * R [D, D] with x @ R = interleaved rotate_half(x): R[2i+1, 2i] = -1, R[2i, 2i+1] = 1. One plain
 * matmul instead of a split of the last axis into pairs and a concat (both slow paths on wasm, three
 * kernels on WebGPU); exact in float32 (each output is one +-x term plus zeros).
 */
function rotationMatrix(d: number): tf.Tensor2D {
  let r = rotations.get(d);
  if (!r) {
    r = new Float32Array(d * d);
    for (let i = 0; i < d / 2; i++) {
      r[(2 * i + 1) * d + 2 * i] = -1;
      r[2 * i * d + 2 * i + 1] = 1;
    }
    rotations.set(d, r);
  }
  return tf.tensor2d(r, [d, d]);
}

/** Split-half rotate_half in each of `groups` equal channel groups: [a, b] -> [-b, a] per group. */
export function rotateHalfSplit(x: tf.Tensor, groups = 1): tf.Tensor {
  return tf.tidy(() => {
    const d = x.shape[x.rank - 1];
    const halves = tf.reshape(x, [-1, groups, 2, d / groups / 2]); // [N, G, 2, D/(2G)]
    const [a, b] = tf.split(halves, 2, 2); // 2 x [N, G, 1, D/(2G)]
    return tf.reshape(tf.concat([tf.neg(b), a], 2), x.shape); // [..., D]
  });
}

/**
 * x * cos + rotate_half(x) * sin. x: [..., T, Dh]; cos, sin: [T, Dh] (broadcast over leading dims).
 * `groups` applies to 'half' pairing only (2 for axial 2-D RoPE: rows and columns are separate groups).
 */
export function applyRotary(x: tf.Tensor, cos: tf.Tensor, sin: tf.Tensor, pairing: RotaryPairing = 'interleaved', groups = 1): tf.Tensor {
  const [t, dh] = [x.shape[x.rank - 2], x.shape[x.rank - 1]];
  if (cos.shape[0] !== t || cos.shape[1] !== dh) {
    throw new ShapeError('rotary input', `[..., ${cos.shape[0]}, ${cos.shape[1]}] (tokens, head dim of the rotary table)`, `[${x.shape}]`);
  }
  return tf.tidy(() => {
    const rotated = pairing === 'interleaved' ? rotateHalfInterleaved(x) : rotateHalfSplit(x, groups);
    return tf.add(tf.mul(x, cos), tf.mul(rotated, sin)); // [..., T, Dh]
  });
}

// ---------------------------------------------------------------------------------------------------
// (a) EVA VisionRotaryEmbeddingFast

export interface VisionRotaryOptions {
  /** Grid side at inference (default = ptSeqLen); positions are arange(ft) / ft * pt. */
  ftSeqLen?: number;
  freqsFor?: 'lang' | 'pixel' | 'constant';
  theta?: number;
  maxFreq?: number;
  numFreqs?: number;
  /** Replaces the computed per-axis frequencies. */
  customFreqs?: number[];
}

/** Per-axis frequencies, in float32 arithmetic like torch. */
function evaFrequencies(dim: number, o: VisionRotaryOptions): number[] {
  const f = Math.fround;
  if (o.customFreqs) return o.customFreqs.map(f);
  const kind = o.freqsFor ?? 'lang';
  if (kind === 'lang') {
    const theta = o.theta ?? 10000;
    const out: number[] = [];
    for (let k = 0; k < dim; k += 2) out.push(f(1 / f(Math.pow(theta, f(k / dim)))));
    return out.slice(0, Math.floor(dim / 2));
  }
  if (kind === 'pixel') {
    const n = Math.floor(dim / 2);
    const hi = (o.maxFreq ?? 10) / 2;
    return Array.from({ length: n }, (_, i) => f(f(n === 1 ? 1 : 1 + ((hi - 1) * i) / (n - 1)) * Math.PI));
  }
  if (kind === 'constant') return Array.from({ length: o.numFreqs ?? 1 }, () => 1);
  throw new ConfigError('VisionRotaryEmbeddingFast', `unknown freqsFor '${kind}' (known: lang, pixel, constant)`);
}

/** EVA / LightningDiT cos and sin tables [ft*ft, 2*dim*reps] as Float32Arrays (row-major tokens). */
export function visionRotaryTables(dim: number, ptSeqLen: number, opts: VisionRotaryOptions = {}): { cos: Float32Array; sin: Float32Array; width: number; tokens: number } {
  const f = Math.fround;
  const freqs = evaFrequencies(dim, opts);
  const ft = opts.ftSeqLen ?? ptSeqLen;
  const pos = Array.from({ length: ft }, (_, i) => f(f(i / ft) * ptSeqLen));
  const axisWidth = 2 * freqs.length; // each frequency twice (interleaved)
  const width = 2 * axisWidth; // rows then columns
  const tokens = ft * ft;
  const cos = new Float32Array(tokens * width);
  const sin = new Float32Array(tokens * width);
  for (let i = 0; i < ft; i++) {
    for (let j = 0; j < ft; j++) {
      const o = (i * ft + j) * width;
      for (let k = 0; k < freqs.length; k++) {
        const ar = f(pos[i] * freqs[k]); // row angle
        const ac = f(pos[j] * freqs[k]); // column angle
        for (let r = 0; r < 2; r++) {
          cos[o + 2 * k + r] = Math.cos(ar);
          sin[o + 2 * k + r] = Math.sin(ar);
          cos[o + axisWidth + 2 * k + r] = Math.cos(ac);
          sin[o + axisWidth + 2 * k + r] = Math.sin(ac);
        }
      }
    }
  }
  return { cos, sin, width, tokens };
}

/**
 * EVA-02 `VisionRotaryEmbeddingFast` (LightningDiT's `feat_rope`): `dim` is HALF the head dim.
 * Buffers `freqs_cos`, `freqs_sin`: [ft*ft, head_dim], persistent (they are in upstream state dicts).
 */
export class VisionRotaryEmbeddingFast extends Module implements RotaryEmbedding {
  readonly headDim: number;
  readonly tokens: number;
  constructor(readonly dim: number, readonly ptSeqLen = 16, opts: VisionRotaryOptions = {}) {
    super();
    const { cos, sin, width, tokens } = visionRotaryTables(dim, ptSeqLen, opts);
    this.headDim = width;
    this.tokens = tokens;
    this.addBuffer('freqs_cos', tf.tensor2d(cos, [tokens, width]));
    this.addBuffer('freqs_sin', tf.tensor2d(sin, [tokens, width]));
  }

  get freqsCos(): tf.Tensor {
    return this.getBuffer('freqs_cos');
  }

  get freqsSin(): tf.Tensor {
    return this.getBuffer('freqs_sin');
  }

  /** x: [B, H, T, Dh] with T = ft*ft, Dh = 2*dim -> [B, H, T, Dh] */
  forward(x: tf.Tensor): tf.Tensor {
    return applyRotary(x, this.freqsCos, this.freqsSin, 'interleaved');
  }
}

// ---------------------------------------------------------------------------------------------------
// (b) Plain axial 2-D RoPE

export interface AxialRoPEOptions {
  theta?: number;
  /** Channel pairing inside each axis half (default 'interleaved'). */
  pairing?: RotaryPairing;
}

/** Axial tables [H*W, Dh]: channels [0, Dh/2) use the row index, [Dh/2, Dh) the column index. */
export function axialRopeTables(headDim: number, gridH: number, gridW: number, opts: AxialRoPEOptions = {}): { cos: Float32Array; sin: Float32Array } {
  if (headDim % 4 !== 0) throw new ConfigError('AxialRoPE2D', `head dim must be divisible by 4 (two axes of channel pairs), got ${headDim}`);
  const theta = opts.theta ?? 10000;
  const pairing = opts.pairing ?? 'interleaved';
  const axisDim = headDim / 2;
  const nf = axisDim / 2;
  const freqs = Array.from({ length: nf }, (_, k) => Math.pow(theta, (-2 * k) / axisDim));
  const cos = new Float32Array(gridH * gridW * headDim);
  const sin = new Float32Array(gridH * gridW * headDim);
  for (let i = 0; i < gridH; i++) {
    for (let j = 0; j < gridW; j++) {
      const o = (i * gridW + j) * headDim;
      for (let axis = 0; axis < 2; axis++) {
        const p = axis === 0 ? i : j;
        for (let k = 0; k < nf; k++) {
          const a = p * freqs[k];
          const [c0, c1] = pairing === 'interleaved' ? [2 * k, 2 * k + 1] : [k, k + nf];
          const base = o + axis * axisDim;
          cos[base + c0] = cos[base + c1] = Math.cos(a);
          sin[base + c0] = sin[base + c1] = Math.sin(a);
        }
      }
    }
  }
  return { cos, sin };
}

/** Axial 2-D RoPE for a fixed [gridH, gridW] token grid. No state-dict entries. */
export class AxialRoPE2D extends Module implements RotaryEmbedding {
  readonly pairing: RotaryPairing;
  constructor(readonly headDim: number, readonly gridH: number, readonly gridW: number, opts: AxialRoPEOptions = {}) {
    super();
    this.pairing = opts.pairing ?? 'interleaved';
    const { cos, sin } = axialRopeTables(headDim, gridH, gridW, opts);
    const t = gridH * gridW;
    this.addBuffer('cos', tf.tensor2d(cos, [t, headDim]), { persistent: false });
    this.addBuffer('sin', tf.tensor2d(sin, [t, headDim]), { persistent: false });
  }

  /** x: [B, H, gridH*gridW, Dh] -> same */
  forward(x: tf.Tensor): tf.Tensor {
    return applyRotary(x, this.getBuffer('cos'), this.getBuffer('sin'), this.pairing, 2);
  }
}

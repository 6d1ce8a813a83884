// Multi-head self-attention on [B, T, D] with the variants the references use:
//   fused `qkv` projection (timm / DiT / LightningDiT: output channels ordered (3, heads, head_dim))
//   or separate q / k / v projections (configurable key names, e.g. transformers' query/key/value),
//   optional q/k normalisation over the head dim (LayerNorm or RMSNorm, keys q_norm / k_norm),
//   optional rotary embedding applied to q and k after the norm, an attention temperature,
//   and the output projection `proj`.
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError } from '../errors.js';
import { Module } from './module.js';
import { Linear } from './linear.js';
import { LayerNorm, RMSNorm } from './norm.js';
import { scaledDotProductAttention, splitHeads, mergeHeads } from './attention.js';
import type { RotaryEmbedding } from './rope.js';

export interface MultiHeadAttentionKeys {
  qkv?: string;
  q?: string;
  k?: string;
  v?: string;
  proj?: string;
  qNorm?: string;
  kNorm?: string;
}

export interface MultiHeadAttentionOptions {
  /** One fused projection (default) or three. */
  projections?: 'fused' | 'separate';
  /** Bias on the q/k/v projection(s) (default true). */
  qkvBias?: boolean;
  /** Bias on the output projection (default true). */
  projBias?: boolean;
  /** Normalise q and k over the head dim before RoPE (default none). */
  qkNorm?: 'layernorm' | 'rmsnorm' | null;
  /** eps of the q/k norm (default: LayerNorm 1e-5 as nn.LayerNorm, RMSNorm 1e-6 as LightningDiT's). */
  qkNormEps?: number;
  /** Rotary embedding applied to q and k ([B, H, T, Dh]); may also be given per call. */
  rope?: RotaryEmbedding | null;
  /** Attention temperature: logits are q.k / (sqrt(Dh) * temperature) (default 1). */
  temperature?: number;
  /** Key names (defaults: qkv, q, k, v, proj, q_norm, k_norm). */
  keys?: MultiHeadAttentionKeys;
  seed?: number;
}

export interface AttentionCallOptions {
  /** Overrides the module's rotary embedding for this call (null: none). */
  rope?: RotaryEmbedding | null;
  /** Additive mask broadcastable to [B, H, T, T]. */
  mask?: tf.Tensor;
  causal?: boolean;
}

export class MultiHeadAttention extends Module {
  readonly headDim: number;
  readonly qkv: Linear | null;
  readonly q: Linear | null;
  readonly k: Linear | null;
  readonly v: Linear | null;
  readonly proj: Linear;
  readonly qNorm: LayerNorm | RMSNorm | null;
  readonly kNorm: LayerNorm | RMSNorm | null;
  readonly rope: RotaryEmbedding | null;
  readonly temperature: number;
  constructor(readonly dim: number, readonly numHeads: number, opts: MultiHeadAttentionOptions = {}) {
    super();
    if (dim % numHeads !== 0) throw new ConfigError('MultiHeadAttention', `dim ${dim} is not divisible by ${numHeads} heads`);
    this.headDim = dim / numHeads;
    const keys = { qkv: 'qkv', q: 'q', k: 'k', v: 'v', proj: 'proj', qNorm: 'q_norm', kNorm: 'k_norm', ...opts.keys };
    const bias = opts.qkvBias ?? true;
    const seed = opts.seed;
    if ((opts.projections ?? 'fused') === 'fused') {
      this.qkv = this.addModule(keys.qkv, new Linear(dim, 3 * dim, { bias, seed }));
      this.q = this.k = this.v = null;
    } else {
      this.qkv = null;
      this.q = this.addModule(keys.q, new Linear(dim, dim, { bias, seed }));
      this.k = this.addModule(keys.k, new Linear(dim, dim, { bias, seed }));
      this.v = this.addModule(keys.v, new Linear(dim, dim, { bias, seed }));
    }
    const norm = opts.qkNorm ?? null;
    const makeNorm = () => (norm === 'layernorm' ? new LayerNorm(this.headDim, { eps: opts.qkNormEps }) : new RMSNorm(this.headDim, { eps: opts.qkNormEps }));
    if (norm !== null && norm !== 'layernorm' && norm !== 'rmsnorm') throw new ConfigError('MultiHeadAttention', `unknown qkNorm '${norm}' (layernorm, rmsnorm or null)`);
    this.qNorm = norm ? this.addModule(keys.qNorm, makeNorm()) : null;
    this.kNorm = norm ? this.addModule(keys.kNorm, makeNorm()) : null;
    this.proj = this.addModule(keys.proj, new Linear(dim, dim, { bias: opts.projBias ?? true, seed }));
    this.rope = opts.rope ?? null;
    this.temperature = opts.temperature ?? 1;
  }

  /** x: [B, T, D] -> [B, T, D] */
  forward(x: tf.Tensor, opts: AttentionCallOptions = {}): tf.Tensor {
    if (x.rank !== 3 || x.shape[2] !== this.dim) throw new ShapeError('MultiHeadAttention input', `[B, T, ${this.dim}]`, `[${x.shape}]`);
    const rope = opts.rope === undefined ? this.rope : opts.rope;
    return tf.tidy(() => {
      let [q, k, v] = this.projectHeads(x); // 3 x [B, H, T, Dh]
      if (this.qNorm && this.kNorm) {
        q = this.qNorm.forward(q);
        k = this.kNorm.forward(k);
      }
      if (rope) {
        q = rope.forward(q);
        k = rope.forward(k);
      }
      const scale = 1 / (Math.sqrt(this.headDim) * this.temperature);
      const o = scaledDotProductAttention(q, k, v, { scale, mask: opts.mask, causal: opts.causal }); // [B, H, T, Dh]
      return this.proj.forward(mergeHeads(o)); // [B, T, D]
    });
  }

  /** x: [B, T, D] -> q, k, v each [B, H, T, Dh] (before q/k norm and RoPE). */
  projectHeads(x: tf.Tensor): [tf.Tensor, tf.Tensor, tf.Tensor] {
    return tf.tidy(() => {
      const [b, t] = x.shape;
      const h = this.numHeads;
      const dh = this.headDim;
      if (this.qkv) {
        // Output channels are ordered (3, H, Dh): unstack the 3 first, then split heads (4-D
        // transposes only: rank-5 transposes are a slow path on wasm).
        const qkv = tf.reshape(this.qkv.forward(x), [b, t, 3, h * dh]); // [B, T, 3, D]
        const [q, k, v] = tf.unstack(qkv, 2).map((p) => splitHeads(p, h)); // 3 x [B, H, T, Dh]
        return [q, k, v] as [tf.Tensor, tf.Tensor, tf.Tensor];
      }
      return [splitHeads(this.q!.forward(x), h), splitHeads(this.k!.forward(x), h), splitHeads(this.v!.forward(x), h)];
    });
  }
}

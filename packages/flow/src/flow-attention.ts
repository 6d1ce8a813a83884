// TARFlow's attention (apple/ml-tarflow `Attention`): pre-LayerNorm, fused qkv, scaled dot product
// with a temperature, output projection. In sample mode each call appends its keys/values to a KV
// cache named by `whichCache` ('cond' / 'uncond', as upstream) and attends over everything cached,
// so reverse sampling feeds one token at a time. Keys: norm.{weight,bias}, qkv.{weight,bias},
// proj.{weight,bias}.
import * as tf from '@tensorflow/tfjs-core';
import { KVCache, LayerNorm, Linear, Module, mergeHeads, scaledDotProductAttention } from '@fae/core';

/** Rotates q or k [B, H, T, Dh] as the positions start .. start + T - 1 of the sequence (STARFlow RoPE). */
export interface SequenceRotary {
  apply(x: tf.Tensor, start: number): tf.Tensor;
}

export interface FlowAttentionCallOptions {
  /** Additive mask [T, T] (0 attend, large negative block); none in sample mode. */
  mask?: tf.Tensor | null;
  /** Causal attention (query i sees keys <= i); same as the lower-triangular mask, but lets fused kernels run. */
  causal?: boolean;
  /** Attention temperature: logits are q.k / (sqrt(Dh) * temp). */
  temp?: number;
  /** Which KV cache to use in sample mode (upstream: 'cond' or 'uncond'). */
  whichCache?: string;
  /** Rotary embedding of positions (STARFlow's RoPE option); null for TARFlow. */
  rope?: SequenceRotary | null;
}

export class FlowAttention extends Module {
  readonly norm: LayerNorm;
  readonly qkv: Linear;
  readonly proj: Linear;
  readonly numHeads: number;
  /** Sample mode (upstream `self.sample`): on, every call appends to a KV cache. */
  private caches: Map<string, KVCache> | null = null;

  constructor(readonly channels: number, readonly headDim: number, opts: { seed?: number } = {}) {
    super();
    if (channels % headDim !== 0) throw new RangeError(`FlowAttention: channels ${channels} must be a multiple of head_dim ${headDim}`);
    this.numHeads = channels / headDim;
    this.norm = this.addModule('norm', new LayerNorm(channels));
    this.qkv = this.addModule('qkv', new Linear(channels, 3 * channels, { seed: opts.seed }));
    this.proj = this.addModule('proj', new Linear(channels, channels, { seed: opts.seed }));
  }

  /** Turns sample mode on or off; either way the caches are emptied (upstream `set_sample_mode`). */
  setSampleMode(on: boolean): void {
    if (this.caches) for (const c of this.caches.values()) c.dispose();
    this.caches = on ? new Map() : null;
  }

  get sampleMode(): boolean {
    return this.caches !== null;
  }

  /** Positions held by a cache (0 when not sampling). */
  cachedLength(whichCache = 'cond'): number {
    return this.caches?.get(whichCache)?.length ?? 0;
  }

  /** x: [B, T, C] -> [B, T, C] */
  forward(x: tf.Tensor, opts: FlowAttentionCallOptions = {}): tf.Tensor {
    return tf.tidy(() => {
      const [b, t, c] = x.shape as [number, number, number];
      const h = this.numHeads;
      const qkv = this.qkv.forward(this.norm.forward(x)); // [B, T, 3C]
      const heads = tf.transpose(tf.reshape(qkv, [b, t, 3 * h, this.headDim]), [0, 2, 1, 3]); // [B, 3H, T, Dh]
      let [q, k, v] = tf.split(heads, 3, 1); // [B, H, T, Dh] each
      if (this.caches) {
        const name = opts.whichCache ?? 'cond';
        let cache = this.caches.get(name);
        if (!cache) this.caches.set(name, (cache = new KVCache({ name: `FlowAttention[${name}]` })));
        ({ k, v } = cache.append(k, v)); // [B, H, Tk, Dh]
      }
      if (opts.rope) {
        const tk = k.shape[2]!;
        q = opts.rope.apply(q, tk - t); // queries are the newest positions
        k = opts.rope.apply(k, 0);
      }
      const scale = 1 / Math.sqrt(this.headDim) / (opts.temp ?? 1);
      const out = scaledDotProductAttention(q, k, v, { scale, mask: opts.mask ?? undefined, causal: opts.causal }); // [B, H, T, Dh]
      return this.proj.forward(tf.reshape(mergeHeads(out), [b, t, c])); // [B, T, C]
    });
  }

  override dispose(): void {
    this.setSampleMode(false);
    super.dispose();
  }
}

// KVCache: the keys and values of every position decoded so far, for step-by-step (autoregressive)
// attention. Each step appends the new positions' k/v `[B, H, t, Dh]` and reads back the whole past
// `[B, H, T, Dh]`, so a query at the newest position attends to everything before it without
// recomputing the prefix. Any attention can use it: call `append` between the k/v projection and
// `scaledDotProductAttention` (which offsets its causal mask when Tk > Tq).
//
// Ownership: the cache keeps its own copy (the caller's k/v are not taken). The tensors `append`
// returns belong to the cache and stay valid until the next append/truncate/reset/dispose: use them,
// do not dispose them. Calling `append` inside `tf.tidy` is safe (the cache's tensors are kept).
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError } from '../errors.js';

export interface KVCacheOptions {
  /** Most positions the cache may hold; appending past it throws (default: unbounded). */
  maxLength?: number;
  /** Name used in error messages (e.g. 'blocks.0.attn_blocks.1.attention[cond]'). */
  name?: string;
}

export class KVCache {
  readonly maxLength: number;
  readonly name: string;
  private k: tf.Tensor | null = null; // [B, H, T, Dh]
  private v: tf.Tensor | null = null; // [B, H, T, Dv]

  constructor(opts: KVCacheOptions = {}) {
    this.maxLength = opts.maxLength ?? Infinity;
    this.name = opts.name ?? 'KVCache';
  }

  /** Number of cached positions T. */
  get length(): number {
    return this.k ? this.k.shape[2]! : 0;
  }

  get isEmpty(): boolean {
    return this.k === null;
  }

  /** The cached keys [B, H, T, Dh] (owned by the cache), or null when empty. */
  get keys(): tf.Tensor | null {
    return this.k;
  }

  /** The cached values [B, H, T, Dv] (owned by the cache), or null when empty. */
  get values(): tf.Tensor | null {
    return this.v;
  }

  /**
   * Appends k [B, H, t, Dh] and v [B, H, t, Dv] (t >= 1 new positions) and returns the whole past
   * including them: { k: [B, H, T, Dh], v: [B, H, T, Dv] } with T = previous length + t.
   */
  append(k: tf.Tensor, v: tf.Tensor): { k: tf.Tensor; v: tf.Tensor } {
    this.checkShapes(k, v);
    const t = k.shape[2]!;
    if (this.length + t > this.maxLength) {
      throw new ShapeError(`${this.name}: append of ${t} position(s)`, `at most ${this.maxLength} cached positions`, `${this.length + t}`);
    }
    const oldK = this.k;
    const oldV = this.v;
    this.k = tf.keep(oldK ? tf.concat([oldK, k], 2) : tf.clone(k)); // [B, H, T, Dh]
    this.v = tf.keep(oldV ? tf.concat([oldV, v], 2) : tf.clone(v)); // [B, H, T, Dv]
    oldK?.dispose();
    oldV?.dispose();
    return { k: this.k, v: this.v };
  }

  /** Keeps only the first `length` positions (rolls back the newest ones, e.g. for Jacobi decoding). */
  truncate(length: number): void {
    if (!Number.isInteger(length) || length < 0) throw new RangeError(`${this.name}: truncate(${length}): length must be a non-negative integer`);
    if (length >= this.length) return;
    if (length === 0) {
      this.reset();
      return;
    }
    const oldK = this.k!;
    const oldV = this.v!;
    this.k = tf.keep(tf.slice(oldK, [0, 0, 0, 0], [-1, -1, length, -1])); // [B, H, length, Dh]
    this.v = tf.keep(tf.slice(oldV, [0, 0, 0, 0], [-1, -1, length, -1])); // [B, H, length, Dv]
    oldK.dispose();
    oldV.dispose();
  }

  /** Empties the cache (frees its tensors); it can be filled again. */
  reset(): void {
    this.k?.dispose();
    this.v?.dispose();
    this.k = null;
    this.v = null;
  }

  dispose(): void {
    this.reset();
  }

  private checkShapes(k: tf.Tensor, v: tf.Tensor): void {
    if (k.rank !== 4) throw new ShapeError(`${this.name}: k`, '[B, H, t, Dh]', `[${k.shape}]`);
    if (v.rank !== 4) throw new ShapeError(`${this.name}: v`, '[B, H, t, Dv]', `[${v.shape}]`);
    const [b, h, t] = k.shape;
    if (v.shape[0] !== b || v.shape[1] !== h || v.shape[2] !== t) {
      throw new ShapeError(`${this.name}: v`, `[${b}, ${h}, ${t}, Dv] (batch, heads and positions of k)`, `[${v.shape}]`);
    }
    if (this.k && this.v) {
      const [cb, ch, , cd] = this.k.shape;
      if (b !== cb || h !== ch || k.shape[3] !== cd) throw new ShapeError(`${this.name}: k`, `[${cb}, ${ch}, t, ${cd}] (as the cached keys)`, `[${k.shape}]`);
      if (v.shape[3] !== this.v.shape[3]) throw new ShapeError(`${this.name}: v`, `[${cb}, ${ch}, t, ${this.v.shape[3]}] (as the cached values)`, `[${v.shape}]`);
    }
  }
}

// Rng: a seeded random number generator in plain JS (xoshiro128**, seeded through splitmix32), so a
// run is reproducible from its seed and gives the same numbers on every backend: values are made
// here and uploaded, never drawn by a backend kernel. Independent streams come from fork(), which
// hands the child the current state and jumps this generator 2^64 draws ahead (xoshiro's jump).
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '../errors.js';

/** Serialisable generator state (four uint32 words); restore with Rng.setState / Rng.fromState. */
export interface RngState {
  algorithm: 'xoshiro128**';
  s: [number, number, number, number];
}

const JUMP = [0x8764000b, 0xf542d2d3, 0x6fa035c3, 0x77f2db5b];
const TWO_POW_32 = 4294967296;

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** splitmix32 step: returns [next state, output]. */
function splitmix32(state: number): [number, number] {
  const next = (state + 0x9e3779b9) >>> 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return [next, (z ^ (z >>> 16)) >>> 0];
}

function shapeSizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new ConfigError('Rng', `invalid shape [${shape}]`);
    n *= d;
  }
  return n;
}

export class Rng {
  private readonly s = new Uint32Array(4);

  /**
   * `seed` (any safe integer) and optional `stream` (e.g. a worker rank or an epoch) pick the
   * starting state; both are mixed through splitmix32, so nearby seeds give unrelated sequences.
   */
  constructor(seed = 0, stream = 0) {
    if (!Number.isSafeInteger(seed) || !Number.isSafeInteger(stream)) throw new ConfigError('Rng', `seed and stream must be safe integers, got ${seed}, ${stream}`);
    let st = (seed >>> 0) ^ 0x6a09e667;
    let out: number;
    // High bits of large seeds and the stream are folded in through extra splitmix rounds.
    [st, out] = splitmix32(st ^ Math.floor(seed / TWO_POW_32));
    st = (st ^ out) >>> 0;
    [st, out] = splitmix32((st ^ (stream >>> 0)) >>> 0);
    st = (st ^ out ^ Math.floor(stream / TWO_POW_32)) >>> 0;
    for (let i = 0; i < 4; i++) {
      [st, out] = splitmix32(st);
      this.s[i] = out;
    }
    if (this.s[0] === 0 && this.s[1] === 0 && this.s[2] === 0 && this.s[3] === 0) this.s[0] = 1;
  }

  /** A generator positioned at `state`. */
  static fromState(state: RngState): Rng {
    const r = new Rng(0);
    r.setState(state);
    return r;
  }

  state(): RngState {
    return { algorithm: 'xoshiro128**', s: [this.s[0], this.s[1], this.s[2], this.s[3]] };
  }

  setState(state: RngState): this {
    const ok = state && state.algorithm === 'xoshiro128**' && Array.isArray(state.s) && state.s.length === 4
      && state.s.every((w) => Number.isInteger(w) && w >= 0 && w < TWO_POW_32) && state.s.some((w) => w !== 0);
    if (!ok) throw new ConfigError('Rng.setState', `not a xoshiro128** state: ${JSON.stringify(state)}`);
    this.s.set(state.s);
    return this;
  }

  /** Next raw uint32. */
  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform double in [0, 1) with 53 random bits. */
  nextDouble(): number {
    const a = this.nextUint32() >>> 5; // 27 bits
    const b = this.nextUint32() >>> 6; // 26 bits
    return (a * 67108864 + b) / 9007199254740992;
  }

  /** Uniform float32 in [0, 1) with 24 random bits (exactly representable). */
  nextFloat32(): number {
    return (this.nextUint32() >>> 8) / 16777216;
  }

  /** Uniform integer in [0, n), unbiased (rejection sampling), 1 <= n <= 2^32. */
  nextInt(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > TWO_POW_32) throw new ConfigError('Rng.nextInt', `bound must be an integer in [1, 2^32], got ${n}`);
    const limit = TWO_POW_32 - (TWO_POW_32 % n); // accept x < limit: a multiple of n
    for (;;) {
      const x = this.nextUint32();
      if (x < limit) return x % n;
    }
  }

  /** Fills `out` with N(mean, std^2) (Box-Muller on 53-bit uniforms, computed in float64). */
  fillNormal<T extends Float32Array | Float64Array>(out: T, mean = 0, std = 1): T {
    for (let i = 0; i < out.length; i += 2) {
      const u1 = 1 - this.nextDouble(); // (0, 1]
      const u2 = this.nextDouble();
      const r = Math.sqrt(-2 * Math.log(u1));
      out[i] = mean + std * r * Math.cos(2 * Math.PI * u2);
      if (i + 1 < out.length) out[i + 1] = mean + std * r * Math.sin(2 * Math.PI * u2);
    }
    return out;
  }

  /** Fills `out` with U[low, high). */
  fillUniform<T extends Float32Array | Float64Array>(out: T, low = 0, high = 1): T {
    for (let i = 0; i < out.length; i++) out[i] = low + (high - low) * this.nextDouble();
    return out;
  }

  /** Gaussian tensor N(mean, std^2) of `shape`, float32. */
  normal(shape: number[], mean = 0, std = 1): tf.Tensor {
    return tf.tensor(this.fillNormal(new Float32Array(shapeSizeOf(shape)), mean, std), shape, 'float32');
  }

  /** Uniform tensor U[low, high) of `shape`, float32. */
  uniform(shape: number[], low = 0, high = 1): tf.Tensor {
    return tf.tensor(this.fillUniform(new Float32Array(shapeSizeOf(shape)), low, high), shape, 'float32');
  }

  /** Integer tensor uniform in [low, high) of `shape`, int32 (numpy `integers` semantics). */
  integers(shape: number[], low: number, high: number): tf.Tensor {
    if (!Number.isInteger(low) || !Number.isInteger(high) || high <= low) throw new ConfigError('Rng.integers', `need integers low < high, got [${low}, ${high})`);
    const out = new Int32Array(shapeSizeOf(shape));
    for (let i = 0; i < out.length; i++) out[i] = low + this.nextInt(high - low);
    return tf.tensor(out, shape, 'int32');
  }

  /** A random permutation of 0..n-1 (Fisher-Yates), as plain numbers for indexing data. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.nextInt(i + 1);
      const t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  }

  /** Bernoulli(p) keep-mask values (1 with probability `keep`, else 0) as float32. */
  fillBernoulli(out: Float32Array, keep: number): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = this.nextDouble() < keep ? 1 : 0;
    return out;
  }

  /** Advances this generator by 2^64 draws (xoshiro128 jump polynomial). */
  jump(): this {
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (const word of JUMP) {
      for (let b = 0; b < 32; b++) {
        if ((word >>> b) & 1) {
          s0 ^= this.s[0];
          s1 ^= this.s[1];
          s2 ^= this.s[2];
          s3 ^= this.s[3];
        }
        this.nextUint32();
      }
    }
    this.s[0] = s0;
    this.s[1] = s1;
    this.s[2] = s2;
    this.s[3] = s3;
    return this;
  }

  /**
   * An independent stream: the child starts at this generator's current state and this one jumps
   * 2^64 draws ahead, so successive forks and the parent never overlap.
   */
  fork(): Rng {
    const child = Rng.fromState(this.state());
    this.jump();
    return child;
  }

  clone(): Rng {
    return Rng.fromState(this.state());
  }
}

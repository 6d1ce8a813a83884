// mulberry32: a tiny seeded generator of uniform numbers in [0, 1) (32-bit state), for shuffles and
// test data where a reproducible stream from one integer is all that is needed. For training
// randomness (tensors, independent streams, savable state) use Rng (rng.ts).

/** A function returning the next uniform number in [0, 1) of the mulberry32 stream of `seed` (taken as uint32). */
export function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Runs `fn` (synchronous) with Math.random replaced by the mulberry32 stream of `seed`, then restores
 * it (also when fn throws). tfjs's unseeded generators (tf.randomNormal/Uniform without a seed, hence
 * every initialiser built without a seed) seed themselves from Math.random, so modules constructed
 * inside get the same weights on every run: `withSeededRandom(1, () => new PixelDecoder(config))`.
 */
export function withSeededRandom<T>(seed: number, fn: () => T): T {
  const original = Math.random;
  Math.random = mulberry32(seed);
  try {
    const result = fn();
    if (result instanceof Promise) throw new TypeError('withSeededRandom: fn must be synchronous (Math.random would stay replaced while it awaits)');
    return result;
  } finally {
    Math.random = original;
  }
}

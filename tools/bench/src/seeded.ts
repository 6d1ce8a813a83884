// Seeded random weights for the benchmarks. Constructors that take no seed draw their initial values
// from tfjs's unseeded generators, which seed themselves from Math.random(); while `fn` runs,
// Math.random is a seeded generator (mulberry32), so the same models get the same weights in every
// run. Speed does not depend on the values; this only makes runs repeatable.
export function withSeededRandom<T>(seed: number, fn: () => T): T {
  const original = Math.random;
  let s = seed >>> 0;
  Math.random = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  try {
    return fn();
  } finally {
    Math.random = original;
  }
}

// Parameter initialisers. Each returns a tensor of the requested (our-layout) shape.
// Seeded initialisers are pure functions of (seed, parameter path): Module.addParameter draws a
// parameter from deriveSeed(seed, its name) and Module.addModule redraws it from
// deriveSeed(seed, 'child.path.name') when it is attached, so a module built with a seed gets the
// same weights whatever else the process built before, and every parameter its own stream.
// tfjs's seeded generators run in JS, so the values are the same on every backend.
import * as tf from '@tensorflow/tfjs-core';

/** Initialiser: makes the initial value in OUR layout for a given (our-layout) shape. */
export type Initializer = (shape: number[]) => tf.Tensor;

/** A seeded initialiser: `draw(shape, seed)` is deterministic in `seed`; calling it uses the base seed. */
export interface SeededInitializer extends Initializer {
  /** The seed the caller gave; Module derives each parameter's seed from it and the parameter's path. */
  readonly seed: number;
  draw(shape: number[], seed: number): tf.Tensor;
}

export function isSeededInitializer(f: unknown): f is SeededInitializer {
  return typeof f === 'function' && typeof (f as SeededInitializer).seed === 'number' && typeof (f as SeededInitializer).draw === 'function';
}

/**
 * The seed of the parameter at `path` (state-dict key relative to the seeded module, e.g.
 * 'blocks.3.attn.qkv.weight') of a module built with `seed`: 32-bit FNV-1a over `${seed}:${path}`,
 * then murmur3's finaliser for avalanche. Never 0 (tfjs's normal generators treat 0 as "unseeded").
 */
export function deriveSeed(seed: number, path: string): number {
  const text = `${seed}:${path}`;
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) || 0x9e3779b9;
}

/** Unseeded: a fresh draw (tfjs's Math.random-seeded generators). Seeded: a SeededInitializer. */
function randomInit(seed: number | undefined, draw: (shape: number[], seed?: number) => tf.Tensor): Initializer {
  if (seed === undefined) return (shape) => draw(shape);
  const base = deriveSeed(seed, '');
  return Object.assign((shape: number[]) => draw(shape, base), { seed, draw: (shape: number[], s: number) => draw(shape, s) });
}

export const init = {
  zeros: (): Initializer => (shape) => tf.zeros(shape),
  ones: (): Initializer => (shape) => tf.ones(shape),
  constant: (v: number): Initializer => (shape) => tf.fill(shape, v),
  normal: (std = 1, seed?: number): Initializer => randomInit(seed, (shape, s) => tf.randomNormal(shape, 0, std, 'float32', s)),
  truncatedNormal: (std = 0.02, seed?: number): Initializer => randomInit(seed, (shape, s) => tf.truncatedNormal(shape, 0, std, 'float32', s)),
  uniform: (limit: number, seed?: number): Initializer => randomInit(seed, (shape, s) => tf.randomUniform(shape, -limit, limit, 'float32', s)),
  /** PyTorch's default Linear init: U(-1/sqrt(fanIn), 1/sqrt(fanIn)). `fanIn` must be given for biases. */
  torchDefault: (fanIn: number, seed?: number): Initializer => {
    const limit = 1 / Math.sqrt(fanIn);
    return randomInit(seed, (shape, s) => tf.randomUniform(shape, -limit, limit, 'float32', s));
  },
  /** Xavier/Glorot uniform for a [fanIn, fanOut] (our Linear layout) weight. */
  xavierUniform: (seed?: number): Initializer => randomInit(seed, (shape, s) => {
    const fanIn = shape.length > 1 ? shape.slice(0, -1).reduce((a, b) => a * b, 1) : shape[0];
    const fanOut = shape[shape.length - 1];
    const limit = Math.sqrt(6 / (fanIn + fanOut));
    return tf.randomUniform(shape, -limit, limit, 'float32', s);
  }),
};

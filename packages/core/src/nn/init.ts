// Parameter initialisers. Each returns a tensor of the requested (our-layout) shape.
// Pass a seed for reproducible weights; tfjs's seeded generators give the same values on every backend.
import * as tf from '@tensorflow/tfjs-core';
import type { Initializer } from './module.js';

let seedCounter = 0;
/** Seeds derived from a base seed and a counter, so consecutive seeded inits differ. */
function nextSeed(seed?: number): number | undefined {
  return seed === undefined ? undefined : seed + 7919 * seedCounter++;
}

export const init = {
  zeros: (): Initializer => (shape) => tf.zeros(shape),
  ones: (): Initializer => (shape) => tf.ones(shape),
  constant: (v: number): Initializer => (shape) => tf.fill(shape, v),
  normal: (std = 1, seed?: number): Initializer => (shape) => tf.randomNormal(shape, 0, std, 'float32', nextSeed(seed)),
  truncatedNormal: (std = 0.02, seed?: number): Initializer => (shape) => tf.truncatedNormal(shape, 0, std, 'float32', nextSeed(seed)),
  uniform: (limit: number, seed?: number): Initializer => (shape) => tf.randomUniform(shape, -limit, limit, 'float32', nextSeed(seed)),
  /** PyTorch's default Linear init: U(-1/sqrt(fanIn), 1/sqrt(fanIn)). `fanIn` must be given for biases. */
  torchDefault: (fanIn: number, seed?: number): Initializer => (shape) => tf.randomUniform(shape, -1 / Math.sqrt(fanIn), 1 / Math.sqrt(fanIn), 'float32', nextSeed(seed)),
  /** Xavier/Glorot uniform for a [fanIn, fanOut] (our Linear layout) weight. */
  xavierUniform: (seed?: number): Initializer => (shape) => {
    const fanIn = shape.length > 1 ? shape.slice(0, -1).reduce((a, b) => a * b, 1) : shape[0];
    const fanOut = shape[shape.length - 1];
    const limit = Math.sqrt(6 / (fanIn + fanOut));
    return tf.randomUniform(shape, -limit, limit, 'float32', nextSeed(seed));
  },
};

// Token orders of the autoregressive flow blocks (upstream `PermutationIdentity`/`PermutationFlip`).
// Block i reads the sequence in order i % 2: identity (raster order) or flipped (reverse raster), so
// every token is, in some block, conditioned on the tokens after it.
import * as tf from '@tensorflow/tfjs-core';

export interface Permutation {
  readonly name: 'identity' | 'flip';
  /** Permutes `x` along `axis` (the token axis: 1 for [B, T, D], 0 for [T, C]). */
  apply(x: tf.Tensor, axis?: number): tf.Tensor;
  /** The inverse permutation. */
  invert(x: tf.Tensor, axis?: number): tf.Tensor;
}

export const permutationIdentity: Permutation = {
  name: 'identity',
  apply: (x) => tf.clone(x),
  invert: (x) => tf.clone(x),
};

export const permutationFlip: Permutation = {
  name: 'flip',
  apply: (x, axis = 1) => tf.reverse(x, axis),
  invert: (x, axis = 1) => tf.reverse(x, axis),
};

/** Upstream's alternation: block i uses identity for even i, flip for odd i. */
export function permutationForBlock(i: number): Permutation {
  return i % 2 === 0 ? permutationIdentity : permutationFlip;
}

// Ops over many tensors that stay correct on every backend. tfjs-backend-webgpu 4.22 binds every
// input of AddN / Pack (stack) / Concat as its own storage buffer and the device keeps WebGPU's
// default limit of 8 storage buffers per shader stage: with 8 or more inputs tf.addN returned 0 and
// tf.stack of 8 scalars came back wrong (seen on Dawn + lavapipe). These helpers combine at most
// MAX_INPUTS tensors per kernel, in a tree.
import * as tf from '@tensorflow/tfjs-core';

/** Inputs per kernel: 8 storage buffers minus the output, with a margin. */
export const MAX_INPUTS = 6;

function chunks<T>(xs: T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

/** Elementwise sum of same-shape tensors (tf.addN, any count). */
export function addMany(xs: tf.Tensor[]): tf.Tensor {
  if (xs.length === 0) throw new Error('addMany: no tensors');
  return tf.tidy(() => {
    let level = xs;
    while (level.length > 1) level = chunks(level, MAX_INPUTS).map((c) => (c.length === 1 ? c[0] : tf.addN(c)));
    return tf.clone(level[0]);
  });
}

/** tf.concat for any number of tensors. */
export function concatMany(xs: tf.Tensor[], axis = 0): tf.Tensor {
  if (xs.length === 0) throw new Error('concatMany: no tensors');
  return tf.tidy(() => {
    let level = xs;
    while (level.length > 1) level = chunks(level, MAX_INPUTS).map((c) => (c.length === 1 ? c[0] : tf.concat(c, axis)));
    return tf.clone(level[0]);
  });
}

/** tf.stack for any number of same-shape tensors. */
export function stackMany(xs: tf.Tensor[], axis = 0): tf.Tensor {
  if (xs.length === 0) throw new Error('stackMany: no tensors');
  return tf.tidy(() => concatMany(xs.map((x) => tf.expandDims(x, axis)), axis));
}

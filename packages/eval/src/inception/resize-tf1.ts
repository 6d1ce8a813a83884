// Bilinear resize exactly as TensorFlow 1.x's ResizeBilinear with align_corners=False (no
// half-pixel offset), the resize inside the FID Inception graph; torch-fidelity reproduces it as
// `interpolate_bilinear_2d_like_tensorflow1x`. Source coordinate of output pixel i is
// float32(i) * float32(in / out); the lower neighbour is its floor, the upper one is clamped to the
// edge, and the weights are the float32 fractional parts. Interpolates along x, then y.
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError } from '@fae/core';

export interface Tf1ResizeAxis {
  lo: Int32Array;
  hi: Int32Array;
  /** Fractional weights of the upper neighbour, float32. */
  frac: Float32Array;
}

/** Sample positions of one axis (`alignCorners` as TF1: (in-1)/(out-1) scale, else in/out). */
export function tf1ResizeAxis(inSize: number, outSize: number, alignCorners = false): Tf1ResizeAxis {
  const scale = alignCorners ? (inSize - 1) / Math.max(1, outSize - 1) : inSize / outSize;
  const s32 = Math.fround(scale);
  const lo = new Int32Array(outSize);
  const hi = new Int32Array(outSize);
  const frac = new Float32Array(outSize);
  for (let i = 0; i < outSize; i++) {
    const g = Math.fround(i * s32); // float32 multiply, as the reference does on float32 grids
    const l = Math.floor(g);
    lo[i] = l;
    hi[i] = Math.min(l + 1, inSize - 1);
    frac[i] = Math.fround(g - l);
  }
  return { lo, hi, frac };
}

/** x: [B, H, W, C] float -> [B, outH, outW, C] with TF1 ResizeBilinear (align_corners=False) semantics. */
export function resizeBilinearTf1(x: tf.Tensor, size: [number, number], opts: { alignCorners?: boolean } = {}): tf.Tensor {
  if (x.rank !== 4) throw new ShapeError('resizeBilinearTf1 input', 'a rank-4 NHWC tensor [B, H, W, C]', `[${x.shape}]`);
  const [, H, W] = x.shape as number[];
  const [outH, outW] = size;
  return tf.tidy(() => {
    const xf = x.dtype === 'float32' ? x : tf.cast(x, 'float32');
    if (H === outH && W === outW && !opts.alignCorners) return tf.clone(xf); // scale 1: every weight is 0
    const ax = tf1ResizeAxis(W, outW, opts.alignCorners);
    const ay = tf1ResizeAxis(H, outH, opts.alignCorners);
    const left = tf.gather(xf, ax.lo, 2); // [B, H, outW, C]
    const right = tf.gather(xf, ax.hi, 2); // [B, H, outW, C]
    const rows = tf.add(left, tf.mul(tf.sub(right, left), tf.tensor4d(ax.frac, [1, 1, outW, 1]))); // [B, H, outW, C]
    const top = tf.gather(rows, ay.lo, 1); // [B, outH, outW, C]
    const bottom = tf.gather(rows, ay.hi, 1); // [B, outH, outW, C]
    return tf.add(top, tf.mul(tf.sub(bottom, top), tf.tensor4d(ay.frac, [1, outH, 1, 1]))); // [B, outH, outW, C]
  });
}

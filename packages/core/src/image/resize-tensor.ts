// Resizing float image tensors on the active backend. Each axis is one matmul with a weight matrix
// built in float64 (resample-weights.ts), so the op runs on every backend, has gradients, and
// reproduces PIL / PyTorch-antialias resampling (no uint8 rounding) or PyTorch's plain
// `interpolate` (antialias=False) to float32 precision.
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError } from '../errors.js';
import { antialiasWeights, axisWeightsToMatrix, resampleFilter, torchInterpMatrix, type ResampleFilter } from './resample-weights.js';

export interface ResizeTensorOptions {
  /** Filter name or PIL code. Default 'bicubic'. */
  method?: ResampleFilter | number;
  /**
   * true (default): PIL / torch antialias=True weights (filter widened when downscaling, a = -0.5
   * for bicubic). false: PyTorch `interpolate(mode, align_corners=False)` (bicubic a = -0.75 with
   * clamped border taps, or bilinear); only 'bicubic' and 'bilinear'.
   */
  antialias?: boolean;
}

/** Row-major [out, in] interpolation matrix for one axis under the given options. */
export function resizeMatrix(inSize: number, outSize: number, opts: ResizeTensorOptions = {}): Float64Array {
  const filter = resampleFilter(opts.method ?? 'bicubic', 'resizeTensor.method');
  if (opts.antialias ?? true) return axisWeightsToMatrix(antialiasWeights(inSize, outSize, filter));
  if (filter !== 'bicubic' && filter !== 'bilinear') {
    throw new ConfigError('resizeTensor', `antialias=false supports 'bicubic' and 'bilinear', not '${filter}'`);
  }
  return torchInterpMatrix(inSize, outSize, { mode: filter });
}

/** The transpose [in, out] of a row-major [out, in] matrix, as a float32 tensor. */
function transposedTensor(m: Float64Array, outSize: number, inSize: number): tf.Tensor2D {
  const t = new Float32Array(inSize * outSize);
  for (let o = 0; o < outSize; o++) for (let i = 0; i < inSize; i++) t[i * outSize + o] = m[o * inSize + i];
  return tf.tensor2d(t, [inSize, outSize]);
}

/**
 * Resizes images [B, H, W, C] (or [H, W, C]) of any float range to [B, height, width, C], float32.
 * Values are not rounded or clipped (bicubic can overshoot the input range).
 */
export function resizeTensor(images: tf.Tensor, size: { height: number; width: number }, opts: ResizeTensorOptions = {}): tf.Tensor {
  if (images.rank !== 3 && images.rank !== 4) throw new ShapeError('resizeTensor images', '[B, H, W, C] or [H, W, C]', `[${images.shape}]`);
  const { height, width } = size;
  if (!Number.isInteger(height) || !Number.isInteger(width) || height < 1 || width < 1) {
    throw new ConfigError('resizeTensor', `target size must be positive integers, got ${height}x${width}`);
  }
  return tf.tidy(() => {
    const x4 = images.rank === 3 ? tf.expandDims(images, 0) : images; // [B, H, W, C]
    const [b, h, w, c] = x4.shape;
    const mw = transposedTensor(resizeMatrix(w, width, opts), width, w); // [W, W']
    const mh = transposedTensor(resizeMatrix(h, height, opts), height, h); // [H, H']
    const y = separableResize(tf.cast(x4, 'float32'), mh, mw, [b, h, w, c]); // [B, H', W', C]
    return images.rank === 3 ? tf.squeeze(y, [0]) : y;
  });
}

/** Resizes one axis of x [B, H, W, C] (float32) to `size` with the given options. */
export function resizeAxis(x: tf.Tensor, axis: 'height' | 'width', size: number, opts: ResizeTensorOptions = {}): tf.Tensor4D {
  if (x.rank !== 4) throw new ShapeError('resizeAxis x', '[B, H, W, C]', `[${x.shape}]`);
  return tf.tidy(() => {
    const [b, h, w, c] = x.shape;
    const n = axis === 'height' ? h : w;
    const m = transposedTensor(resizeMatrix(n, size, opts), size, n); // [n, size]
    if (axis === 'width') {
      const xw = tf.reshape(tf.transpose(tf.cast(x, 'float32'), [0, 1, 3, 2]), [b * h * c, w]); // [B*H*C, W]
      return tf.transpose(tf.reshape(tf.matMul(xw, m), [b, h, c, size]), [0, 1, 3, 2]) as tf.Tensor4D; // [B, H, W', C]
    }
    const xh = tf.reshape(tf.transpose(tf.cast(x, 'float32'), [0, 2, 3, 1]), [b * w * c, h]); // [B*W*C, H]
    return tf.transpose(tf.reshape(tf.matMul(xh, m), [b, w, c, size]), [0, 3, 1, 2]) as tf.Tensor4D; // [B, H', W, C]
  });
}

/**
 * Applies [H, H'] along rows and [W, W'] along columns of x [B, H, W, C]: two plain 2-D matmuls
 * (no transpose flags: the fast path on wasm). Width first, like PIL.
 */
export function separableResize(x: tf.Tensor, mh: tf.Tensor2D, mw: tf.Tensor2D, shape: number[]): tf.Tensor4D {
  return tf.tidy(() => {
    const [b, h, w, c] = shape;
    const hOut = mh.shape[1];
    const wOut = mw.shape[1];
    const xw = tf.reshape(tf.transpose(x, [0, 1, 3, 2]), [b * h * c, w]); // [B*H*C, W]
    const yw = tf.reshape(tf.matMul(xw, mw), [b, h, c, wOut]); // [B, H, C, W']
    const xh = tf.reshape(tf.transpose(yw, [0, 3, 2, 1]), [b * wOut * c, h]); // [B*W'*C, H]
    const yh = tf.reshape(tf.matMul(xh, mh), [b, wOut, c, hOut]); // [B, W', C, H']
    return tf.transpose(yh, [0, 3, 1, 2]) as tf.Tensor4D; // [B, H', W', C]
  });
}

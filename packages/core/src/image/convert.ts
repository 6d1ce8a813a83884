// RawImage <-> tfjs tensors. Tensors are NHWC: one image [H, W, C], a batch [B, H, W, C].
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError } from '../errors.js';
import { checkRawImage, type RawImage } from './raw-image.js';

export interface ImageToTensorOptions {
  /** 'float32' (default) or 'int32'. Values stay 0..255 unless `scale` is given. */
  dtype?: 'float32' | 'int32';
  /** Multiply float values by this (e.g. 1/255). */
  scale?: number;
}

/** One image -> [H, W, C] tensor (values 0..255, or scaled). */
export function imageToTensor(image: RawImage, opts: ImageToTensorOptions = {}): tf.Tensor3D {
  checkRawImage(image);
  const { width, height, channels, data } = image;
  if (opts.dtype === 'int32') return tf.tensor3d(Int32Array.from(data), [height, width, channels], 'int32');
  const f = new Float32Array(data.length);
  const s = opts.scale ?? 1;
  for (let i = 0; i < data.length; i++) f[i] = data[i] * s;
  return tf.tensor3d(f, [height, width, channels], 'float32');
}

/** Images of one size and channel count -> [B, H, W, C] tensor. */
export function imagesToTensor(images: readonly RawImage[], opts: ImageToTensorOptions = {}): tf.Tensor4D {
  if (!images.length) throw new ShapeError('imagesToTensor images', 'at least one image', 'none');
  const { width, height, channels } = images[0];
  const per = width * height * channels;
  const isInt = opts.dtype === 'int32';
  const out = isInt ? new Int32Array(per * images.length) : new Float32Array(per * images.length);
  const s = opts.scale ?? 1;
  images.forEach((img, b) => {
    checkRawImage(img, `images[${b}]`);
    if (img.width !== width || img.height !== height || img.channels !== channels) {
      throw new ShapeError(`images[${b}]`, `${height}x${width}x${channels} like images[0]`, `${img.height}x${img.width}x${img.channels}`);
    }
    for (let i = 0; i < per; i++) out[b * per + i] = isInt ? img.data[i] : img.data[i] * s;
  });
  return tf.tensor4d(out, [images.length, height, width, channels], isInt ? 'int32' : 'float32');
}

export interface TensorToImageOptions {
  /**
   * Value range of the tensor, mapped linearly to 0..255 before rounding and clipping:
   * [0, 255] (default), [0, 1] or [-1, 1] (generator outputs).
   */
  range?: [number, number];
}

/**
 * [B, H, W, C] or [H, W, C] tensor (C = 1..4) -> RawImages: `range` mapped to 0..255, rounded half
 * up and clipped. Reads the tensor asynchronously (never synchronously: works on WebGPU).
 */
export async function tensorToImages(t: tf.Tensor, opts: TensorToImageOptions = {}): Promise<RawImage[]> {
  if (t.rank !== 3 && t.rank !== 4) throw new ShapeError('tensorToImages', '[B, H, W, C] or [H, W, C]', `[${t.shape}]`);
  const shape = t.rank === 3 ? [1, ...t.shape] : t.shape;
  const [b, h, w, c] = shape;
  if (c < 1 || c > 4) throw new ShapeError('tensorToImages', '1 to 4 channels', String(c));
  const [lo, hi] = opts.range ?? [0, 255];
  const values = (await t.data()) as Float32Array | Int32Array;
  const per = h * w * c;
  const k = 255 / (hi - lo);
  const images: RawImage[] = [];
  for (let i = 0; i < b; i++) {
    const data = new Uint8Array(per);
    for (let j = 0; j < per; j++) {
      const v = Math.floor((values[i * per + j] - lo) * k + 0.5);
      data[j] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
    images.push({ width: w, height: h, channels: c as RawImage['channels'], data });
  }
  return images;
}

/** One [H, W, C] (or [1, H, W, C]) tensor -> RawImage. */
export async function tensorToImage(t: tf.Tensor, opts: TensorToImageOptions = {}): Promise<RawImage> {
  if (t.rank === 4 && t.shape[0] !== 1) throw new ShapeError('tensorToImage', '[H, W, C] or [1, H, W, C]', `[${t.shape}]`);
  return (await tensorToImages(t, opts))[0];
}

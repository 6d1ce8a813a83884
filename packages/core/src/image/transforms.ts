// Center crop, rescale and normalise, with transformers' semantics (image_transforms.center_crop,
// rescale, normalize), for RawImages (exact, in JS) and for float tensors [B, H, W, C] (on device).
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError } from '../errors.js';
import { checkRawImage, type RawImage } from './raw-image.js';

/** Where a center crop of (cropH, cropW) reads from an (h, w) image: offsets and zero padding. */
export interface CropPlan {
  /** Zero padding added above / left of the image first (when the crop is larger than it). */
  padTop: number;
  padLeft: number;
  /** Top-left of the crop in the padded image. */
  top: number;
  left: number;
}

/**
 * transformers' `center_crop`: top = (h - cropH) // 2, left = (w - cropW) // 2; an image smaller
 * than the crop is first zero-padded to max(h, cropH) x max(w, cropW), centred with
 * ceil((new - old) / 2) rows/columns of padding before it.
 */
export function centerCropPlan(h: number, w: number, cropH: number, cropW: number): CropPlan {
  const top = Math.floor((h - cropH) / 2);
  const left = Math.floor((w - cropW) / 2);
  if (top >= 0 && left >= 0 && top + cropH <= h && left + cropW <= w) return { padTop: 0, padLeft: 0, top, left };
  const newH = Math.max(cropH, h);
  const newW = Math.max(cropW, w);
  const padTop = Math.ceil((newH - h) / 2);
  const padLeft = Math.ceil((newW - w) / 2);
  return { padTop, padLeft, top: Math.max(0, top + padTop), left: Math.max(0, left + padLeft) };
}

function checkCropSize(cropH: number, cropW: number): void {
  if (!Number.isInteger(cropH) || !Number.isInteger(cropW) || cropH < 1 || cropW < 1) {
    throw new ConfigError('centerCrop', `crop size must be positive integers, got ${cropH}x${cropW}`);
  }
}

/** Center crop of a RawImage to cropH x cropW (zero padding when the image is smaller), as transformers does. */
export function centerCrop(image: RawImage, cropH: number, cropW: number): RawImage {
  checkRawImage(image);
  checkCropSize(cropH, cropW);
  const { width: w, height: h, channels: c, data } = image;
  const p = centerCropPlan(h, w, cropH, cropW);
  const out = new Uint8Array(cropH * cropW * c);
  for (let y = 0; y < cropH; y++) {
    const sy = y + p.top - p.padTop; // row in the unpadded image
    if (sy < 0 || sy >= h) continue;
    for (let x = 0; x < cropW; x++) {
      const sx = x + p.left - p.padLeft;
      if (sx < 0 || sx >= w) continue;
      for (let ch = 0; ch < c; ch++) out[(y * cropW + x) * c + ch] = data[(sy * w + sx) * c + ch];
    }
  }
  return { width: cropW, height: cropH, channels: c, data: out };
}

/** Center crop of images [B, H, W, C] (or [H, W, C]) to cropH x cropW, zero-padding as transformers does. */
export function centerCropTensor(images: tf.Tensor, cropH: number, cropW: number): tf.Tensor {
  if (images.rank !== 3 && images.rank !== 4) throw new ShapeError('centerCropTensor images', '[B, H, W, C] or [H, W, C]', `[${images.shape}]`);
  checkCropSize(cropH, cropW);
  return tf.tidy(() => {
    const x = images.rank === 3 ? tf.expandDims(images, 0) : images; // [B, H, W, C]
    const [, h, w] = x.shape;
    const p = centerCropPlan(h, w, cropH, cropW);
    let padded = x;
    if (p.padTop || p.padLeft || h < cropH || w < cropW) {
      const newH = Math.max(cropH, h);
      const newW = Math.max(cropW, w);
      padded = tf.pad(x, [[0, 0], [p.padTop, newH - h - p.padTop], [p.padLeft, newW - w - p.padLeft], [0, 0]]); // [B, H*, W*, C]
    }
    const y = tf.slice(padded, [0, p.top, p.left, 0], [-1, cropH, cropW, -1]); // [B, cropH, cropW, C]
    return images.rank === 3 ? tf.squeeze(y, [0]) : y;
  });
}

/** x * factor (transformers `rescale`, e.g. 1/255), float32. */
export function rescaleTensor(images: tf.Tensor, factor: number): tf.Tensor {
  return tf.tidy(() => tf.mul(tf.cast(images, 'float32'), factor));
}

/** (x - mean) / std per channel over the last axis (transformers `normalize`), float32. */
export function normalizeTensor(images: tf.Tensor, mean: number | readonly number[], std: number | readonly number[]): tf.Tensor {
  const c = images.shape[images.rank - 1];
  const m = typeof mean === 'number' ? new Array(c).fill(mean) : [...mean];
  const s = typeof std === 'number' ? new Array(c).fill(std) : [...std];
  if (m.length !== c || s.length !== c) throw new ShapeError('normalizeTensor mean/std', `${c} values (one per channel)`, `${m.length} and ${s.length}`);
  return tf.tidy(() => tf.div(tf.sub(tf.cast(images, 'float32'), tf.tensor1d(m)), tf.tensor1d(s)));
}

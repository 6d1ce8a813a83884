// Transforms applied to each decoded image before batching: to RGB, to the pipeline's image size
// (ADM centre crop, a short-side resize + centre crop, or a plain resize), and a horizontal flip.
import { ConfigError, resizeImage, toRGB, type RawImage } from '@fae/core';
import { admCenterCrop, resizeCenterCrop } from '../preprocess.js';

/** An image as floats in [0, 1], [H, W, 3] row-major (MNIST's values, kept unquantised). */
export interface FloatImage {
  width: number;
  height: number;
  float: Float32Array;
}

export interface ImageTransform {
  imageSize: number;
  /** 'adm': the paper's ADM centre crop; 'center': bicubic short side to imageSize then centre crop; 'resize': squash. */
  crop: 'adm' | 'center' | 'resize';
  /** Random horizontal flip with probability 0.5 (seeded by the batch options). */
  flip?: boolean;
}

function isFloat(image: RawImage | FloatImage): image is FloatImage {
  return (image as FloatImage).float !== undefined;
}

function toFloat(image: RawImage): FloatImage {
  const rgb = toRGB(image);
  const float = new Float32Array(rgb.data.length);
  for (let i = 0; i < float.length; i++) float[i] = rgb.data[i] / 255;
  return { width: rgb.width, height: rgb.height, float };
}

function toRaw(image: FloatImage): RawImage {
  const data = new Uint8Array(image.float.length);
  for (let i = 0; i < data.length; i++) data[i] = Math.round(255 * Math.min(1, Math.max(0, image.float[i])));
  return { width: image.width, height: image.height, channels: 3, data };
}

function flipFloat(image: FloatImage): FloatImage {
  const { width, height, float } = image;
  const out = new Float32Array(float.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const src = (y * width + (width - 1 - x)) * 3;
      const dst = (y * width + x) * 3;
      out[dst] = float[src];
      out[dst + 1] = float[src + 1];
      out[dst + 2] = float[src + 2];
    }
  }
  return { width, height, float: out };
}

/** One image -> RGB floats in [0, 1] at the transform's size (no transform: as it is). */
export function applyTransform(image: RawImage | FloatImage, t: ImageTransform | undefined, flip: boolean, name = 'image'): FloatImage {
  let out: FloatImage;
  if (!t || (image.width === t.imageSize && image.height === t.imageSize)) out = isFloat(image) ? image : toFloat(image);
  else {
    if (!Number.isInteger(t.imageSize) || t.imageSize < 1) throw new ConfigError(name, `transform imageSize must be a positive integer, got ${t.imageSize}`);
    const raw = isFloat(image) ? toRaw(image) : toRGB(image);
    const sized = t.crop === 'adm' ? admCenterCrop(raw, t.imageSize)
      : t.crop === 'center' ? resizeCenterCrop(raw, t.imageSize)
        : resizeImage(raw, { width: t.imageSize, height: t.imageSize, resample: 'bicubic' });
    out = toFloat(sized);
  }
  return t?.flip && flip ? flipFloat(out) : out;
}

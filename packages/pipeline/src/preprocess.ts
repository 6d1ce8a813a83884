// Image preprocessing of a pipeline: what an image goes through before the frozen encoder.
//
//   file / RawImage (any size, grey / RGB / RGBA)
//     -> RGB -> ADM centre crop to `imageSize` (the paper's ImageNet 256: halve with BOX while the short
//        side >= 2x, bicubic short side to 256, centre crop)  or  a plain resize to imageSize
//     = the pipeline's image [H, W, 3] in [0, 1]: what datasets yield, what the pixel decoder outputs
//   tensor [B, imageSize, imageSize, 3] in [0, 1]
//     -> resized to `encoderSize` as a whole (PyTorch bicubic, align_corners=False, as RAE does
//        256 -> 224 for DINOv2; never a 224 crop cut out of 256) -> (x - mean) / std
//     = the encoder's pixel values
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError, cropImage, resizeImage, resizeTensor, toRGB, type RawImage } from '@fae/core';

export interface PipelinePreprocessing {
  /** Side of the pipeline's images (datasets, pixel decoder output). */
  imageSize: number;
  /** Side of the encoder's input (resized from imageSize as a whole). */
  encoderSize: number;
  /** How a file of another size becomes imageSize: the ADM centre crop, a short-side resize + centre crop, or a resize (squash). */
  crop: 'adm' | 'center' | 'resize';
  /** Encoder normalisation: (x - mean) / std on [0, 1] values. */
  mean: [number, number, number];
  std: [number, number, number];
}

/** ImageNet mean / std (DINOv2) and SigLIP's 0.5 / 0.5. */
export const IMAGENET_MEAN: [number, number, number] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: [number, number, number] = [0.229, 0.224, 0.225];
export const HALF: [number, number, number] = [0.5, 0.5, 0.5];

export function checkPreprocessing(p: PipelinePreprocessing, source = 'preprocessing'): PipelinePreprocessing {
  const int = (v: unknown) => Number.isInteger(v) && (v as number) > 0;
  if (!int(p?.imageSize) || !int(p.encoderSize)) throw new ConfigError(source, `imageSize and encoderSize must be positive integers, got ${p?.imageSize} / ${p?.encoderSize}`);
  if (!['adm', 'center', 'resize'].includes(p.crop)) throw new ConfigError(source, `crop must be 'adm', 'center' or 'resize', got ${JSON.stringify(p.crop)}`);
  for (const k of ['mean', 'std'] as const) {
    if (!Array.isArray(p[k]) || p[k].length !== 3 || !p[k].every(Number.isFinite)) throw new ConfigError(source, `${k} must be 3 numbers, got ${JSON.stringify(p[k])}`);
  }
  if (p.std.some((s) => s <= 0)) throw new ConfigError(source, `std must be positive, got ${JSON.stringify(p.std)}`);
  return p;
}

/**
 * ADM's `center_crop_arr` (openai/guided-diffusion image_datasets.py): while the short side is at least
 * twice `size`, halve with PIL BOX; resize the short side to `size` with PIL BICUBIC (rounded); centre crop.
 */
export function admCenterCrop(image: RawImage, size: number): RawImage {
  let img = toRGB(image);
  while (Math.min(img.width, img.height) >= 2 * size) {
    img = resizeImage(img, { width: Math.floor(img.width / 2), height: Math.floor(img.height / 2), resample: 'box' });
  }
  const scale = size / Math.min(img.width, img.height);
  const w = Math.round(img.width * scale);
  const h = Math.round(img.height * scale);
  if (w !== img.width || h !== img.height) img = resizeImage(img, { width: w, height: h, resample: 'bicubic' });
  return cropImage(img, Math.floor((h - size) / 2), Math.floor((w - size) / 2), size, size);
}

/** A decoded image -> the pipeline's RGB image of side imageSize (see the file header). */
export function prepareImage(image: RawImage, p: Pick<PipelinePreprocessing, 'imageSize' | 'crop'>): RawImage {
  const rgb = toRGB(image);
  if (rgb.width === p.imageSize && rgb.height === p.imageSize) return rgb;
  if (p.crop === 'adm') return admCenterCrop(rgb, p.imageSize);
  if (p.crop === 'center') return resizeCenterCrop(rgb, p.imageSize);
  return resizeImage(rgb, { width: p.imageSize, height: p.imageSize, resample: 'bicubic' });
}

/** Short side to `size` (PIL bicubic), then the central size x size. */
export function resizeCenterCrop(image: RawImage, size: number): RawImage {
  const scale = size / Math.min(image.width, image.height);
  const w = Math.max(size, Math.round(image.width * scale));
  const h = Math.max(size, Math.round(image.height * scale));
  const resized = w === image.width && h === image.height ? image : resizeImage(image, { width: w, height: h, resample: 'bicubic' });
  return cropImage(resized, Math.floor((h - size) / 2), Math.floor((w - size) / 2), size, size);
}

/** True when prepareImage would squash the image (non-square under 'resize'). */
export function wouldSquash(image: Pick<RawImage, 'width' | 'height'>, p: Pick<PipelinePreprocessing, 'crop'>): boolean {
  return p.crop === 'resize' && image.width !== image.height;
}

/** RawImages of one size -> [B, H, W, 3] float32 in [0, 1]. */
export function rawImagesToTensor(images: readonly RawImage[]): tf.Tensor4D {
  if (!images.length) throw new ShapeError('images', 'at least one image', '0');
  const { width, height } = images[0];
  const data = new Float32Array(images.length * width * height * 3);
  images.forEach((im, i) => {
    const rgb = toRGB(im);
    if (rgb.width !== width || rgb.height !== height) throw new ShapeError(`images[${i}]`, `${width}x${height} like images[0]`, `${rgb.width}x${rgb.height}`);
    const off = i * width * height * 3;
    for (let k = 0; k < rgb.data.length; k++) data[off + k] = rgb.data[k] / 255;
  });
  return tf.tensor4d(data, [images.length, height, width, 3]);
}

/** Pipeline images [B, H, W, 3] in [0, 1] -> encoder pixel values [B, S, S, 3] (S = encoderSize). */
export function toEncoderPixels(images: tf.Tensor, p: PipelinePreprocessing): tf.Tensor4D {
  if (images.rank !== 4 || images.shape[3] !== 3) throw new ShapeError('images', '[B, H, W, 3] in [0, 1]', `[${images.shape}]`);
  return tf.tidy(() => {
    let x = images;
    const [, h, w] = images.shape;
    if (h !== p.encoderSize || w !== p.encoderSize) x = resizeTensor(x, { height: p.encoderSize, width: p.encoderSize }, { method: 'bicubic', antialias: false });
    // x * (1/std) - mean/std: for mean = std = 0.5 exactly x * 2 - 1 (bit for bit what the digits example did)
    const scale = tf.tensor1d(p.std.map((s) => 1 / s));
    const offset = tf.tensor1d(p.mean.map((m, i) => m / p.std[i]));
    return tf.sub(tf.mul(x, scale), offset) as tf.Tensor4D; // [B, S, S, 3]
  });
}

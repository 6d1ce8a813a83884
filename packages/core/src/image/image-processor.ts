// Preprocessing configured by a Hugging Face `preprocessor_config.json`, reproducing transformers'
// image processors: BitImageProcessor (DINOv2: resize shortest edge, center crop), SiglipImageProcessor
// (resize to a fixed size, no crop), CLIP/ViT processors alike: convert to RGB -> resize (uint8,
// bit-exact) -> center crop -> rescale -> normalise -> [B, H, W, 3] float32 (NHWC).
//
// `algorithm` picks whose resize to reproduce: 'torch' (default) = transformers' fast processors,
// the default since transformers 5 (PyTorch's uint8 antialias kernel, fused rescale+normalise);
// 'pil' = the slow PIL processors (`use_fast=False`, transformers 4.x default).
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError } from '../errors.js';
import { toRGB, type RawImage } from './raw-image.js';
import { resizeImage } from './resize-image.js';
import { resampleFilter, type ResampleAlgorithm, type ResampleFilter } from './resample-weights.js';
import { centerCrop, centerCropTensor, normalizeTensor, rescaleTensor } from './transforms.js';
import { resizeAxis } from './resize-tensor.js';

/** The fields of `preprocessor_config.json` that preprocessing reads (others are ignored). */
export interface PreprocessorConfigJson {
  image_processor_type?: string;
  do_convert_rgb?: boolean;
  do_resize?: boolean;
  size?: number | { shortest_edge?: number; longest_edge?: number; height?: number; width?: number };
  resample?: number;
  do_center_crop?: boolean;
  crop_size?: number | { height: number; width: number };
  do_rescale?: boolean;
  rescale_factor?: number;
  do_normalize?: boolean;
  image_mean?: number | number[];
  image_std?: number | number[];
  [key: string]: unknown;
}

/** A validated, explicit preprocessing recipe. */
export interface ImagePreprocessing {
  convertRgb: boolean;
  /** null: no resize. */
  resize: null | { kind: 'shortest_edge'; shortestEdge: number; longestEdge?: number } | { kind: 'fixed'; height: number; width: number };
  resample: ResampleFilter;
  /** null: no crop. */
  crop: null | { height: number; width: number };
  /** null: no rescale. */
  rescaleFactor: number | null;
  /** null: no normalisation. */
  mean: number[] | null;
  std: number[] | null;
}

// Processors whose integer `size` means the shortest edge (transformers' default_to_square=False).
const SHORTEST_EDGE_TYPES = /^(Bit|CLIP|ChineseCLIP|ConvNext|MobileNet|LevitImage|Dinov2)/i;

/** Turns a preprocessor_config.json into an explicit recipe, with transformers' defaults and checks. */
export function parsePreprocessorConfig(json: PreprocessorConfigJson, source = 'preprocessor_config.json'): ImagePreprocessing {
  const type = json.image_processor_type ?? '';
  const fail = (msg: string): never => { throw new ConfigError(source, msg); };
  let resize: ImagePreprocessing['resize'] = null;
  if (json.do_resize ?? true) {
    const s = json.size;
    if (typeof s === 'number') {
      resize = SHORTEST_EDGE_TYPES.test(type) ? { kind: 'shortest_edge', shortestEdge: s } : { kind: 'fixed', height: s, width: s };
    } else if (s && s.shortest_edge !== undefined) {
      resize = { kind: 'shortest_edge', shortestEdge: s.shortest_edge, longestEdge: s.longest_edge };
    } else if (s && s.height !== undefined && s.width !== undefined) {
      resize = { kind: 'fixed', height: s.height, width: s.width };
    } else {
      fail(`do_resize is set but size ${JSON.stringify(s)} has neither shortest_edge nor height/width`);
    }
  }
  let crop: ImagePreprocessing['crop'] = null;
  if (json.do_center_crop ?? json.crop_size !== undefined) {
    const c = json.crop_size;
    if (typeof c === 'number') crop = { height: c, width: c };
    else if (c && c.height && c.width) crop = { height: c.height, width: c.width };
    else fail(`do_center_crop is set but crop_size ${JSON.stringify(c)} is not {height, width}`);
  }
  const perChannel = (v: number | number[] | undefined, name: string, dflt: number[]): number[] => {
    const arr = v === undefined ? dflt : typeof v === 'number' ? [v, v, v] : v;
    if (arr.length !== 3 || !arr.every((x) => Number.isFinite(x))) fail(`${name} must be 3 numbers, got ${JSON.stringify(v)}`);
    return arr.slice();
  };
  const doNormalize = json.do_normalize ?? true;
  const mean = doNormalize ? perChannel(json.image_mean, 'image_mean', [0.5, 0.5, 0.5]) : null;
  const std = doNormalize ? perChannel(json.image_std, 'image_std', [0.5, 0.5, 0.5]) : null;
  if (std && std.some((x) => x === 0)) fail('image_std has a zero');
  return {
    convertRgb: json.do_convert_rgb ?? true,
    resize,
    resample: resampleFilter(json.resample ?? 3, `${source}: resample`),
    crop,
    rescaleFactor: json.do_rescale ?? true ? json.rescale_factor ?? 1 / 255 : null,
    mean,
    std,
  };
}

/** transformers' get_resize_output_image_size for a `shortest_edge` resize: [height, width]. */
export function shortestEdgeSize(h: number, w: number, shortestEdge: number, longestEdge?: number): [number, number] {
  const [short, long] = w <= h ? [w, h] : [h, w];
  let newShort = shortestEdge;
  let newLong = Math.trunc((shortestEdge * long) / short);
  if (longestEdge !== undefined && newLong > longestEdge) {
    newShort = Math.trunc((longestEdge * newShort) / newLong);
    newLong = longestEdge;
  }
  return w <= h ? [newLong, newShort] : [newShort, newLong];
}

export interface ImageProcessorOptions {
  /** Whose resize arithmetic to reproduce (default 'torch': transformers' fast processors). */
  algorithm?: ResampleAlgorithm;
}

/** Preprocessing from a preprocessor_config.json: RawImages or float tensors in, [B, H, W, 3] float32 out. */
export class ImageProcessor {
  readonly recipe: ImagePreprocessing;
  readonly algorithm: ResampleAlgorithm;
  constructor(config: PreprocessorConfigJson | ImagePreprocessing, opts: ImageProcessorOptions = {}) {
    this.recipe = 'convertRgb' in config ? (config as ImagePreprocessing) : parsePreprocessorConfig(config as PreprocessorConfigJson);
    this.algorithm = opts.algorithm ?? 'torch';
  }

  static fromConfig(json: PreprocessorConfigJson, opts: ImageProcessorOptions = {}): ImageProcessor {
    return new ImageProcessor(parsePreprocessorConfig(json), opts);
  }

  /** Output [height, width] for an input of h x w. */
  outputSize(h: number, w: number): [number, number] {
    let size: [number, number] = [h, w];
    const r = this.recipe.resize;
    if (r?.kind === 'fixed') size = [r.height, r.width];
    else if (r?.kind === 'shortest_edge') size = shortestEdgeSize(h, w, r.shortestEdge, r.longestEdge);
    if (this.recipe.crop) size = [this.recipe.crop.height, this.recipe.crop.width];
    return size;
  }

  /** One image -> float32 HWC values (exact arithmetic of the reference, in JS). */
  processImage(image: RawImage): { height: number; width: number; data: Float32Array } {
    const { recipe } = this;
    let img = recipe.convertRgb ? toRGB(image) : image;
    if (img.channels !== 3) throw new ShapeError('image', '3 channels (RGB) or do_convert_rgb', `${img.channels} channels`);
    if (recipe.resize) {
      const [height, width] = recipe.resize.kind === 'fixed' ? [recipe.resize.height, recipe.resize.width] : shortestEdgeSize(img.height, img.width, recipe.resize.shortestEdge, recipe.resize.longestEdge);
      img = resizeImage(img, { width, height, resample: recipe.resample, algorithm: this.algorithm });
    }
    if (recipe.crop) img = centerCrop(img, recipe.crop.height, recipe.crop.width);
    return { height: img.height, width: img.width, data: this.rescaleNormalize(img.data) };
  }

  // Float32 arithmetic exactly as the reference does it.
  private rescaleNormalize(u8: Uint8Array): Float32Array {
    const { rescaleFactor, mean, std } = this.recipe;
    const f = Math.fround;
    const out = new Float32Array(u8.length);
    if (mean && std && rescaleFactor !== null && this.algorithm === 'torch') {
      // Fast processors fuse: (x - mean / factor) / (std / factor), in float32.
      const inv = f(1 / rescaleFactor);
      const m = mean.map((v) => f(f(v) * inv));
      const s = std.map((v) => f(f(v) * inv));
      for (let i = 0; i < u8.length; i++) out[i] = f(f(u8[i] - m[i % 3]) / s[i % 3]);
      return out;
    }
    const m = mean?.map(f);
    const s = std?.map(f);
    for (let i = 0; i < u8.length; i++) {
      let x = rescaleFactor === null ? u8[i] : f(u8[i] * rescaleFactor); // numpy: float64 product, cast to float32
      if (m && s) x = f(f(x - m[i % 3]) / s[i % 3]);
      out[i] = x;
    }
    return out;
  }

  /** Images (any sizes; same output size) -> [B, H, W, 3] float32 pixel values. */
  preprocess(images: RawImage | readonly RawImage[]): tf.Tensor4D {
    const list = Array.isArray(images) ? (images as readonly RawImage[]) : [images as RawImage];
    if (!list.length) throw new ShapeError('preprocess images', 'at least one image', 'none');
    const done = list.map((im) => this.processImage(im));
    const { height, width } = done[0];
    const per = height * width * 3;
    const out = new Float32Array(per * done.length);
    done.forEach((d, i) => {
      if (d.height !== height || d.width !== width) {
        throw new ShapeError(`preprocess images[${i}]`, `output ${height}x${width} like images[0] (add a crop or a fixed size to batch them)`, `${d.height}x${d.width}`);
      }
      out.set(d.data, i * per);
    });
    return tf.tensor4d(out, [done.length, height, width, 3]);
  }

  /**
   * On-device variant for float images [B, H, W, 3] with values 0..255 (differentiable by default):
   * the same recipe with float resampling, width then height, each pass clipped to 0..255 as the
   * uint8 reference clips. Without rounding it differs from `preprocess` by the rounding of the
   * resized pixels (about a level); `quantize: true` also rounds after each pass, which reproduces
   * the uint8 reference up to rare one-level ties (no gradient through the rounding).
   */
  preprocessTensor(images: tf.Tensor, opts: { quantize?: boolean } = {}): tf.Tensor4D {
    if (images.rank !== 4 || images.shape[3] !== 3) throw new ShapeError('preprocessTensor images', '[B, H, W, 3] with values 0..255', `[${images.shape}]`);
    return tf.tidy(() => {
      const { recipe } = this;
      let x: tf.Tensor = tf.cast(images, 'float32');
      if (recipe.resize) {
        const [, h, w] = x.shape;
        const [height, width] = recipe.resize.kind === 'fixed' ? [recipe.resize.height, recipe.resize.width] : shortestEdgeSize(h, w, recipe.resize.shortestEdge, recipe.resize.longestEdge);
        const pass = (axis: 'height' | 'width', size: number) => {
          const y = tf.clipByValue(resizeAxis(x, axis, size, { method: recipe.resample }), 0, 255);
          x = opts.quantize ? tf.round(y) : y;
        };
        if (width !== w) pass('width', width);
        if (height !== h) pass('height', height);
      }
      if (recipe.crop) x = centerCropTensor(x, recipe.crop.height, recipe.crop.width);
      if (recipe.rescaleFactor !== null) x = rescaleTensor(x, recipe.rescaleFactor);
      if (recipe.mean && recipe.std) x = normalizeTensor(x, recipe.mean, recipe.std);
      return x as tf.Tensor4D;
    });
  }
}

/** One call: images -> [B, H, W, 3] float32 pixel values under a preprocessor_config.json. */
export function preprocessFromConfig(config: PreprocessorConfigJson, images: RawImage | readonly RawImage[], opts: ImageProcessorOptions = {}): tf.Tensor4D {
  return ImageProcessor.fromConfig(config, opts).preprocess(images);
}

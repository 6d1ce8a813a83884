// Bit-exact resizing of 8-bit images, the way the Python image processors do it. Two separable
// passes, horizontal first, each in fixed-point arithmetic with the intermediate image stored as
// uint8, exactly as the reference does:
//  - 'pil': `PIL.Image.resize(size, resample, box, reducing_gap=None)` (transformers' slow
//    processors, `use_fast=False`): weights with 22 fractional bits; LA/RGBA premultiplied.
//  - 'torch': PyTorch's uint8 antialias kernel (`torchvision...resize(antialias=True)` on uint8
//    tensors), which transformers' fast image processors use (the default since transformers 5):
//    int16 weights whose precision is derived from the largest weight. Bilinear, bicubic, nearest.
import { ConfigError } from '../errors.js';
import { checkRawImage, type RawImage } from './raw-image.js';
import { antialiasWeights, resampleFilter, type AxisWeights, type ResampleAlgorithm, type ResampleFilter } from './resample-weights.js';

const PRECISION_BITS = 32 - 8 - 2;
const MAX_SUM = 2 ** PRECISION_BITS * 256; // 1 << PRECISION_BITS << 8

export interface ResizeImageOptions {
  width: number;
  height: number;
  /** Filter name or PIL code (0 nearest, 1 lanczos, 2 bilinear, 3 bicubic, 4 box, 5 hamming). Default bicubic. */
  resample?: ResampleFilter | number;
  /** Source box [left, top, right, bottom] in pixels (PIL's `box`, 'pil' only); default the whole image. */
  box?: [number, number, number, number];
  /** Whose arithmetic to reproduce bit for bit (default 'pil'); see the header of this file. */
  algorithm?: ResampleAlgorithm;
}

/**
 * Resizes an 8-bit image exactly as PIL's `Image.resize((width, height), resample, box,
 * reducing_gap=None)` does, or (algorithm 'torch') as PyTorch's uint8 antialias interpolation does.
 */
export function resizeImage(image: RawImage, opts: ResizeImageOptions): RawImage {
  checkRawImage(image);
  const { width, height } = opts;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new ConfigError('resizeImage', `target size must be positive integers, got ${width}x${height}`);
  }
  const filter = resampleFilter(opts.resample ?? 'bicubic', 'resizeImage.resample');
  if ((opts.algorithm ?? 'pil') === 'torch') {
    if (opts.box) throw new ConfigError('resizeImage', "`box` is supported only with algorithm 'pil'");
    return resizeTorch(image, width, height, filter);
  }
  const box = opts.box ?? [0, 0, image.width, image.height];
  if (box[0] === 0 && box[1] === 0 && box[2] === image.width && box[3] === image.height && width === image.width && height === image.height) {
    return { ...image, data: image.data.slice() };
  }
  // PIL resizes LA and RGBA with premultiplied alpha (La / RGBa) when the filter is not NEAREST.
  const premultiply = filter !== 'nearest' && (image.channels === 2 || image.channels === 4);
  const src = premultiply ? premultiplyAlpha(image) : image;
  const horiz = antialiasWeights(image.width, width, filter, box[0], box[2]);
  const vert = antialiasWeights(image.height, height, filter, box[1], box[3]);
  const needH = width !== image.width || box[0] !== 0 || box[2] !== width;
  const needV = height !== image.height || box[1] !== 0 || box[3] !== height;
  let out: RawImage = src;
  if (filter === 'nearest') {
    out = resampleNearest(src, horiz, vert);
  } else {
    // Rows of the source the vertical pass reads; the horizontal pass only computes those.
    const yFirst = vert.start[0];
    const yLast = vert.start[height - 1] + vert.count[height - 1];
    if (needH) {
      out = resampleHorizontal(src, fixedPoint(horiz), needV ? yFirst : 0, needV ? yLast : src.height);
      if (needV) {
        const shifted = { ...vert, start: vert.start.map((s) => s - yFirst) };
        out = resampleVertical(out, fixedPoint(shifted));
      }
    } else if (needV) {
      out = resampleVertical(src, fixedPoint(vert));
    }
  }
  return premultiply ? unpremultiplyAlpha(out) : out;
}

/** PyTorch's uint8 antialias resize (and nearest-exact for 'nearest'). */
function resizeTorch(image: RawImage, width: number, height: number, filter: ResampleFilter): RawImage {
  if (filter === 'nearest') {
    const h = torchNearestExact(image.width, width);
    const v = torchNearestExact(image.height, height);
    return resampleNearest(image, h, v);
  }
  if (filter !== 'bilinear' && filter !== 'bicubic') {
    throw new ConfigError('resizeImage', `algorithm 'torch' supports nearest, bilinear and bicubic, not ${filter}`);
  }
  let out = image;
  if (width !== image.width) out = resampleHorizontal(out, torchFixedPoint(antialiasWeights(image.width, width, filter, 0, image.width, 'torch')), 0, out.height);
  if (height !== image.height) out = resampleVertical(out, torchFixedPoint(antialiasWeights(image.height, height, filter, 0, image.height, 'torch')));
  return out === image ? { ...image, data: image.data.slice() } : out;
}

/** PyTorch's 'nearest-exact': source floor((i + 0.5) * in / out), clamped (scale in float32). */
function torchNearestExact(inSize: number, outSize: number): AxisWeights {
  const scale = Math.fround(inSize / outSize);
  const start = new Int32Array(outSize);
  for (let i = 0; i < outSize; i++) start[i] = Math.min(inSize - 1, Math.floor(Math.fround(Math.fround(i + 0.5) * scale)));
  return { inSize, outSize, ksize: 1, start, count: new Int32Array(outSize).fill(1), weights: new Float64Array(outSize).fill(1) };
}

interface FixedWeights extends AxisWeights {
  fixed: Int32Array;
  /** Fractional bits of `fixed`. */
  bits: number;
}

/** PIL's normalize_coeffs_8bpc: weights to integers with 22 fractional bits, rounded half away from zero. */
function fixedPoint(w: AxisWeights): FixedWeights {
  return quantize(w, PRECISION_BITS);
}

/**
 * PyTorch's int16 weights (_compute_index_ranges_int16_weights): the most fractional bits (< 22)
 * for which the largest weight still fits in int16.
 */
function torchFixedPoint(w: AxisWeights): FixedWeights {
  let wMax = 0;
  for (let o = 0; o < w.outSize; o++) for (let j = 0; j < w.count[o]; j++) wMax = Math.max(wMax, w.weights[o * w.ksize + j]);
  let bits = 0;
  for (; bits < 22; bits++) if (Math.trunc(0.5 + wMax * 2 ** (bits + 1)) >= 1 << 15) break;
  return quantize(w, bits);
}

function quantize(w: AxisWeights, bits: number): FixedWeights {
  const one = 2 ** bits;
  const fixed = new Int32Array(w.weights.length);
  for (let i = 0; i < w.weights.length; i++) {
    const v = w.weights[i] * one;
    fixed[i] = v < 0 ? Math.trunc(-0.5 + v) : Math.trunc(0.5 + v);
  }
  return { ...w, fixed, bits };
}

/** Rounds a fixed-point sum (already offset by half) to 0..255. */
function clip8(v: number, bits: number): number {
  if (bits === PRECISION_BITS && v >= MAX_SUM) return 255;
  if (v <= 0) return 0;
  return Math.min(255, Math.floor(v / 2 ** bits));
}

/**
 * One fixed-point pass along the middle axis of data laid out [outer, inSize, inner] ->
 * [outer, outSize, inner], over the outer slices outerStart .. outerStart + outer. The horizontal
 * pass has outer = rows and inner = channels, the vertical pass outer = 1 and inner = a whole row.
 */
function resampleAxis(d: Uint8Array, fw: FixedWeights, outer: number, outerStart: number, inSize: number, inner: number): Uint8Array {
  const outSize = fw.outSize;
  const out = new Uint8Array(outer * outSize * inner);
  const half = 2 ** (fw.bits - 1);
  for (let o = 0; o < outer; o++) {
    const baseIn = (o + outerStart) * inSize * inner;
    const baseOut = o * outSize * inner;
    for (let j = 0; j < outSize; j++) {
      const first = fw.start[j];
      const n = fw.count[j];
      const k = j * fw.ksize;
      for (let i = 0; i < inner; i++) {
        let ss = half;
        for (let t = 0; t < n; t++) ss += d[baseIn + (t + first) * inner + i] * fw.fixed[k + t];
        out[baseOut + j * inner + i] = clip8(ss, fw.bits);
      }
    }
  }
  return out;
}

/** Horizontal pass over source rows y0 .. y1 (only those: the vertical pass reads no others). */
function resampleHorizontal(img: RawImage, fw: FixedWeights, y0: number, y1: number): RawImage {
  const data = resampleAxis(img.data, fw, y1 - y0, y0, img.width, img.channels); // [y1 - y0, outW, C]
  return { width: fw.outSize, height: y1 - y0, channels: img.channels, data };
}

function resampleVertical(img: RawImage, fw: FixedWeights): RawImage {
  const data = resampleAxis(img.data, fw, 1, 0, img.height, img.width * img.channels); // [outH, W, C]
  return { width: img.width, height: fw.outSize, channels: img.channels, data };
}

function resampleNearest(img: RawImage, horiz: AxisWeights, vert: AxisWeights): RawImage {
  const c = img.channels;
  const out = new Uint8Array(vert.outSize * horiz.outSize * c);
  for (let y = 0; y < vert.outSize; y++) {
    const sy = vert.start[y];
    for (let x = 0; x < horiz.outSize; x++) {
      const s = (sy * img.width + horiz.start[x]) * c;
      out.set(img.data.subarray(s, s + c), (y * horiz.outSize + x) * c);
    }
  }
  return { width: horiz.outSize, height: vert.outSize, channels: img.channels, data: out };
}

/** A copy of an image with alpha last (LA, RGBA) whose colour channels are `f(colour, alpha)`; alpha is kept. */
function mapColourByAlpha(img: RawImage, f: (colour: number, alpha: number) => number): RawImage {
  const c = img.channels;
  const d = img.data;
  const out = new Uint8Array(d.length);
  for (let p = 0; p < d.length; p += c) {
    const a = d[p + c - 1];
    for (let ch = 0; ch < c - 1; ch++) out[p + ch] = f(d[p + ch], a);
    out[p + c - 1] = a;
  }
  return { ...img, data: out };
}

// PIL's RGBA -> RGBa: c * a / 255 rounded (MULDIV255: tmp = c * a + 128; (tmp + (tmp >> 8)) >> 8).
function premultiplyAlpha(img: RawImage): RawImage {
  return mapColourByAlpha(img, (v, a) => {
    const t = v * a + 128;
    return (t + (t >> 8)) >> 8;
  });
}

// PIL's RGBa -> RGBA (rgba2rgbA): c * 255 / a with integer division, clipped; alpha 0 or 255 copies.
function unpremultiplyAlpha(img: RawImage): RawImage {
  return mapColourByAlpha(img, (v, a) => (a === 0 || a === 255 ? v : Math.min(255, Math.trunc((255 * v) / a))));
}

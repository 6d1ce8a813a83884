// Resampling weights along one axis, computed in float64 exactly as the reference libraries do:
//  - PIL (`Image.resize`, Resample.c) and PyTorch `interpolate(..., antialias=True)`: the filter is
//    stretched by the scale when downscaling (antialiasing), taps outside the image are dropped and
//    the remaining weights renormalised. Bicubic uses a = -0.5.
//  - PyTorch `interpolate(..., antialias=False)` bicubic (a = -0.75, border taps clamped) and
//    bilinear (align_corners=False), as used to interpolate ViT position embeddings.
// The uint8 resize (resize-image.ts), the float tensor resize (resize-tensor.ts) and the position
// embedding interpolation (nn/posembed-interp.ts) all build on these tables.
import { ConfigError } from '../errors.js';

/** PIL's resampling filters (Image.Resampling). */
export type ResampleFilter = 'nearest' | 'box' | 'bilinear' | 'hamming' | 'bicubic' | 'lanczos';

/** PIL's integer codes (as `resample` in preprocessor_config.json) -> filter names. */
export const PIL_RESAMPLE_CODES: Record<number, ResampleFilter> = { 0: 'nearest', 1: 'lanczos', 2: 'bilinear', 3: 'bicubic', 4: 'box', 5: 'hamming' };

/** The filter for a `resample` value: a PIL code (0-5) or a name. */
export function resampleFilter(value: number | string, source = 'resample'): ResampleFilter {
  if (typeof value === 'number') {
    const f = PIL_RESAMPLE_CODES[value];
    if (!f) throw new ConfigError(source, `unknown PIL resample code ${value} (0 nearest, 1 lanczos, 2 bilinear, 3 bicubic, 4 box, 5 hamming)`);
    return f;
  }
  const name = value.toLowerCase();
  if (name === 'antialias') return 'lanczos';
  if (!['nearest', 'box', 'bilinear', 'hamming', 'bicubic', 'lanczos'].includes(name)) {
    throw new ConfigError(source, `unknown resample filter '${value}' (nearest, box, bilinear, hamming, bicubic, lanczos)`);
  }
  return name as ResampleFilter;
}

interface FilterDef {
  support: number;
  fn: (x: number) => number;
}

const sinc = (x: number) => {
  if (x === 0) return 1;
  const px = x * Math.PI;
  return Math.sin(px) / px;
};

const F054 = Math.fround(0.54);
const F046 = Math.fround(0.46);

// The kernels with PIL's exact expressions (operation order kept so float64 results are identical).
const FILTERS: Record<Exclude<ResampleFilter, 'nearest'>, FilterDef> = {
  box: { support: 0.5, fn: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0) },
  bilinear: { support: 1, fn: (x) => { if (x < 0) x = -x; return x < 1 ? 1 - x : 0; } },
  hamming: {
    support: 1,
    fn: (x) => {
      if (x < 0) x = -x;
      if (x === 0) return 1;
      if (x >= 1) return 0;
      x = x * Math.PI;
      return (Math.sin(x) / x) * (F054 + F046 * Math.cos(x)); // PIL writes 0.54f, 0.46f
    },
  },
  bicubic: { support: 2, fn: (x) => cubicKernel(x, -0.5) },
  lanczos: { support: 3, fn: (x) => (x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0) },
};

/** Keys' cubic convolution kernel with parameter a (PIL/antialias: -0.5; PyTorch/OpenCV: -0.75), PIL's expression. */
export function cubicKernel(x: number, a: number): number {
  if (x < 0) x = -x;
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

/** The same kernel with PyTorch's expression order (cubic_convolution1/2 in UpSample.h). */
export function cubicKernelTorch(x: number, a: number): number {
  x = Math.abs(x);
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
  return 0;
}

/** Whose arithmetic to reproduce: PIL's Resample.c or PyTorch's antialias kernels (transformers' fast processors). */
export type ResampleAlgorithm = 'pil' | 'torch';

/**
 * Sparse weights along one axis: output i reads inputs [start[i], start[i] + count[i]) with
 * weights[i * ksize + j]. (PIL's `bounds` and `kk`.)
 */
export interface AxisWeights {
  inSize: number;
  outSize: number;
  ksize: number;
  start: Int32Array;
  count: Int32Array;
  weights: Float64Array;
}

/**
 * PIL's `precompute_coeffs` (Resample.c), which PyTorch's antialias=True kernels share: support
 * scaled by max(1, in/out), taps clipped to the image, weights renormalised to sum 1. `box` restricts
 * the source to [box0, box1) in input pixel units (PIL's `box` argument).
 */
export function antialiasWeights(inSize: number, outSize: number, filter: ResampleFilter, box0 = 0, box1 = inSize, algorithm: ResampleAlgorithm = 'pil'): AxisWeights {
  if (filter === 'nearest') return nearestWeights(inSize, outSize, box0, box1);
  const f = algorithm === 'torch' && filter === 'bicubic' ? { support: 2, fn: (x: number) => cubicKernelTorch(x, -0.5) } : FILTERS[filter];
  const scale = (box1 - box0) / outSize;
  const filterscale = scale < 1 ? 1 : scale;
  const support = f.support * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Float64Array(outSize * ksize);
  const ss = 1 / filterscale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = box0 + (xx + 0.5) * scale;
    let xmin = Math.trunc(center - support + 0.5); // C's (int) cast
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0;
    const o = xx * ksize;
    for (let x = 0; x < xmax; x++) {
      const w = f.fn((x + xmin - center + 0.5) * ss);
      weights[o + x] = w;
      ww += w;
    }
    if (ww !== 0) for (let x = 0; x < xmax; x++) weights[o + x] /= ww;
    start[xx] = xmin;
    count[xx] = xmax;
  }
  return { inSize, outSize, ksize, start, count, weights };
}

/**
 * PIL's NEAREST resize (ImagingScaleAffine): the source coordinate starts at box0 + scale / 2 and is
 * advanced by adding `scale` in float64 (accumulated, as PIL does), then truncated.
 */
export function nearestWeights(inSize: number, outSize: number, box0 = 0, box1 = inSize): AxisWeights {
  const scale = (box1 - box0) / outSize;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize).fill(1);
  const weights = new Float64Array(outSize).fill(1);
  let xo = box0 + scale * 0.5;
  for (let i = 0; i < outSize; i++) {
    const xin = xo < 0 ? -1 : Math.trunc(xo);
    start[i] = Math.min(inSize - 1, Math.max(0, xin));
    xo += scale;
  }
  return { inSize, outSize, ksize: 1, start, count, weights };
}

export interface TorchInterpOptions {
  /** 'bicubic' (a = -0.75, clamped border taps) or 'bilinear'. */
  mode: 'bicubic' | 'bilinear';
  alignCorners?: boolean;
  /**
   * The `scale_factor` passed to interpolate (output/input), when the call used one instead of
   * `size`; PyTorch then maps coordinates with 1/scaleFactor rather than in/out.
   */
  scaleFactor?: number;
}

/** Dense [outSize, inSize] matrix (row-major) of PyTorch's antialias=False bicubic/bilinear interpolation. */
export function torchInterpMatrix(inSize: number, outSize: number, opts: TorchInterpOptions): Float64Array {
  const m = new Float64Array(outSize * inSize);
  const align = opts.alignCorners ?? false;
  let scale: number;
  if (align) scale = outSize > 1 ? (inSize - 1) / (outSize - 1) : 0;
  else scale = opts.scaleFactor !== undefined && opts.scaleFactor > 0 ? 1 / opts.scaleFactor : inSize / outSize;
  const clampIdx = (i: number) => Math.min(inSize - 1, Math.max(0, i));
  for (let o = 0; o < outSize; o++) {
    if (opts.mode === 'bicubic') {
      const real = align ? scale * o : scale * (o + 0.5) - 0.5;
      const idx = Math.min(Math.floor(real), inSize - 1);
      const t = Math.min(Math.max(real - idx, 0), 1);
      const a = -0.75;
      const w = [cubicKernel(t + 1, a), cubicKernel(t, a), cubicKernel(1 - t, a), cubicKernel(2 - t, a)];
      for (let j = 0; j < 4; j++) m[o * inSize + clampIdx(idx - 1 + j)] += w[j];
    } else {
      if (inSize === outSize) {
        m[o * inSize + o] = 1;
        continue;
      }
      let real = align ? scale * o : scale * (o + 0.5) - 0.5;
      if (real < 0) real = 0;
      const i0 = Math.trunc(real);
      const i1 = i0 < inSize - 1 ? i0 + 1 : i0;
      const l1 = real - i0;
      m[o * inSize + i0] += 1 - l1;
      m[o * inSize + i1] += l1;
    }
  }
  return m;
}

/** Sparse axis weights as a dense row-major [outSize, inSize] matrix. */
export function axisWeightsToMatrix(w: AxisWeights): Float64Array {
  const m = new Float64Array(w.outSize * w.inSize);
  for (let o = 0; o < w.outSize; o++) {
    for (let j = 0; j < w.count[o]; j++) m[o * w.inSize + w.start[o] + j] += w.weights[o * w.ksize + j];
  }
  return m;
}

// Float64 references for image resampling, written from the definitions (continuous filters
// evaluated at every input pixel), independent of @fae/core's weight tables.
import { nd, type Nd } from './ref64.js';

export type RefFilter = 'bilinear' | 'bicubic' | 'lanczos' | 'hamming';

/** Keys' cubic kernel with parameter a. */
export function keysCubic(x: number, a: number): number {
  const t = Math.abs(x);
  if (t < 1) return (a + 2) * t ** 3 - (a + 3) * t ** 2 + 1;
  if (t < 2) return a * t ** 3 - 5 * a * t ** 2 + 8 * a * t - 4 * a;
  return 0;
}

const sinc = (x: number) => (x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x));

const FILTER: Record<RefFilter, { support: number; f: (x: number) => number }> = {
  bilinear: { support: 1, f: (x) => Math.max(0, 1 - Math.abs(x)) },
  bicubic: { support: 2, f: (x) => keysCubic(x, -0.5) },
  lanczos: { support: 3, f: (x) => (Math.abs(x) < 3 ? sinc(x) * sinc(x / 3) : 0) },
  hamming: { support: 1, f: (x) => (Math.abs(x) < 1 ? sinc(x) * (0.54 + 0.46 * Math.cos(Math.PI * x)) : 0) },
};

/**
 * Antialiased resampling along one axis (PIL / torch antialias=True): output i is centred at
 * (i + 0.5) * in / out; the filter is stretched by max(1, in/out); weights of input pixels (centres
 * j + 0.5) inside the image are normalised to sum 1. Returns the dense [out, in] matrix.
 */
export function antialiasMatrix(inSize: number, outSize: number, filter: RefFilter): Float64Array {
  const { f } = FILTER[filter];
  const scale = inSize / outSize;
  const stretch = Math.max(1, scale);
  const m = new Float64Array(outSize * inSize);
  for (let i = 0; i < outSize; i++) {
    const centre = (i + 0.5) * scale;
    let total = 0;
    for (let j = 0; j < inSize; j++) {
      const w = f((j + 0.5 - centre) / stretch);
      m[i * inSize + j] = w;
      total += w;
    }
    for (let j = 0; j < inSize; j++) m[i * inSize + j] /= total;
  }
  return m;
}

/** PyTorch interpolate(mode='bicubic', align_corners=False, antialias=False): a = -0.75, border taps clamped. */
export function torchBicubicMatrix(inSize: number, outSize: number): Float64Array {
  const m = new Float64Array(outSize * inSize);
  const scale = inSize / outSize;
  for (let i = 0; i < outSize; i++) {
    const src = (i + 0.5) * scale - 0.5;
    const base = Math.floor(src);
    for (let k = -1; k <= 2; k++) {
      const j = Math.min(inSize - 1, Math.max(0, base + k));
      m[i * inSize + j] += keysCubic(src - (base + k), -0.75);
    }
  }
  return m;
}

/** PyTorch interpolate(mode='bilinear', align_corners=False). */
export function torchBilinearMatrix(inSize: number, outSize: number): Float64Array {
  const m = new Float64Array(outSize * inSize);
  const scale = inSize / outSize;
  for (let i = 0; i < outSize; i++) {
    const src = Math.max(0, (i + 0.5) * scale - 0.5);
    const j0 = Math.min(inSize - 1, Math.floor(src));
    const j1 = Math.min(inSize - 1, j0 + 1);
    const t = src - j0;
    m[i * inSize + j0] += 1 - t;
    m[i * inSize + j1] += t;
  }
  return m;
}

/** Applies [outH, H] and [outW, W] matrices to x [B, H, W, C] -> [B, outH, outW, C]. */
export function resize2d(x: Nd, mh: Float64Array, mw: Float64Array, outH: number, outW: number): Nd {
  const [b, h, w, c] = x.shape;
  const out = nd([b, outH, outW, c]);
  for (let n = 0; n < b; n++)
    for (let oy = 0; oy < outH; oy++)
      for (let ox = 0; ox < outW; ox++)
        for (let ch = 0; ch < c; ch++) {
          let s = 0;
          for (let y = 0; y < h; y++) {
            const wy = mh[oy * h + y];
            if (wy === 0) continue;
            for (let xx = 0; xx < w; xx++) s += wy * mw[ox * w + xx] * x.data[((n * h + y) * w + xx) * c + ch];
          }
          out.data[((n * outH + oy) * outW + ox) * c + ch] = s;
        }
  return out;
}

/** Antialiased (PIL-style, float) resize of x [B, H, W, C]. */
export function resizeAntialias(x: Nd, outH: number, outW: number, filter: RefFilter): Nd {
  return resize2d(x, antialiasMatrix(x.shape[1], outH, filter), antialiasMatrix(x.shape[2], outW, filter), outH, outW);
}

/** PyTorch non-antialiased bicubic or bilinear resize of x [B, H, W, C]. */
export function resizeTorch(x: Nd, outH: number, outW: number, mode: 'bicubic' | 'bilinear'): Nd {
  const mat = mode === 'bicubic' ? torchBicubicMatrix : torchBilinearMatrix;
  return resize2d(x, mat(x.shape[1], outH), mat(x.shape[2], outW), outH, outW);
}

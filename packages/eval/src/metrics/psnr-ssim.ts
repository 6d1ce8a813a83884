// PSNR and SSIM with scikit-image's defaults, in float64 on the CPU.
//   psnr = 10 log10(data_range^2 / mean((a - b)^2))           (skimage.metrics.peak_signal_noise_ratio)
//   ssim : skimage.metrics.structural_similarity with win_size 7, uniform (box) filter, K1 = 0.01,
//          K2 = 0.03, use_sample_covariance = True (covariances scaled by 49/48), the SSIM map cropped by
//          (win_size - 1) / 2 = 3 pixels on each side before averaging; images are [H, W, C] with
//          channel_axis = -1 (SSIM per channel, then the mean over channels), as our NHWC tensors.
// data_range is required for float images (as skimage requires for SSIM); integer (uint8) data defaults to 255.
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError } from '@fae/core';

export interface ImageArray {
  data: ArrayLike<number>;
  /** [H, W, C] */
  shape: [number, number, number];
  /** true for 8-bit pixel data (data_range defaults to 255). */
  integer?: boolean;
}

export interface SsimOptions {
  dataRange?: number;
  winSize?: number;
  k1?: number;
  k2?: number;
  useSampleCovariance?: boolean;
}

function rangeOf(a: ImageArray, given: number | undefined, what: string): number {
  if (given !== undefined) {
    if (!(given > 0)) throw new ConfigError(what, `data_range must be positive, got ${given}`);
    return given;
  }
  if (a.integer || a.data instanceof Uint8Array || a.data instanceof Uint8ClampedArray) return 255;
  throw new ConfigError(what, 'data_range is required for float images (e.g. 1 for [0, 1], 2 for [-1, 1], 255 for [0, 255])');
}

function sameShape(a: ImageArray, b: ImageArray, what: string): void {
  const [h, w, c] = a.shape;
  if (a.data.length !== h * w * c) throw new ShapeError(`${what} first image`, `${h}x${w}x${c} values`, `${a.data.length}`);
  if (b.shape.join() !== a.shape.join() || b.data.length !== a.data.length) throw new ShapeError(`${what} second image`, `[${a.shape}]`, `[${b.shape}]`);
}

/** Peak signal-to-noise ratio in dB (Infinity for identical images). */
export function psnr(a: ImageArray, b: ImageArray, opts: { dataRange?: number } = {}): number {
  sameShape(a, b, 'psnr');
  const R = rangeOf(a, opts.dataRange, 'psnr');
  let se = 0;
  for (let i = 0; i < a.data.length; i++) se += (a.data[i] - b.data[i]) ** 2;
  const mse = se / a.data.length;
  return 10 * Math.log10((R * R) / mse);
}

/** Box filter of size `win` over a 2-D float64 plane with scipy.ndimage's 'reflect' boundary (d c b a | a b c d). */
function uniformFilter(src: Float64Array, H: number, W: number, win: number): Float64Array {
  const r = win >> 1;
  const reflect = (i: number, n: number) => {
    while (i < 0 || i >= n) i = i < 0 ? -i - 1 : 2 * n - i - 1;
    return i;
  };
  const tmp = new Float64Array(H * W);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      let s = 0;
      for (let d = -r; d < win - r; d++) s += src[y * W + reflect(x + d, W)];
      tmp[y * W + x] = s / win;
    }
  }
  const out = new Float64Array(H * W);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      let s = 0;
      for (let d = -r; d < win - r; d++) s += tmp[reflect(y + d, H) * W + x];
      out[y * W + x] = s / win;
    }
  }
  return out;
}

/** Mean structural similarity (skimage defaults; see the file header). */
export function ssim(a: ImageArray, b: ImageArray, opts: SsimOptions = {}): number {
  sameShape(a, b, 'ssim');
  const [H, W, C] = a.shape;
  const win = opts.winSize ?? 7;
  if (win % 2 !== 1 || win < 3) throw new ConfigError('ssim', `win_size must be odd and >= 3, got ${win}`);
  if (H < win || W < win) throw new ShapeError('ssim image', `at least ${win}x${win} pixels (win_size)`, `${H}x${W}`);
  const R = rangeOf(a, opts.dataRange, 'ssim');
  const C1 = ((opts.k1 ?? 0.01) * R) ** 2;
  const C2 = ((opts.k2 ?? 0.03) * R) ** 2;
  const np = win * win;
  const covNorm = (opts.useSampleCovariance ?? true) ? np / (np - 1) : 1;
  const pad = (win - 1) >> 1;
  let total = 0;
  const x = new Float64Array(H * W);
  const y = new Float64Array(H * W);
  for (let c = 0; c < C; c++) {
    for (let i = 0; i < H * W; i++) {
      x[i] = a.data[i * C + c];
      y[i] = b.data[i * C + c];
    }
    const ux = uniformFilter(x, H, W, win);
    const uy = uniformFilter(y, H, W, win);
    const uxx = uniformFilter(x.map((v) => v * v), H, W, win);
    const uyy = uniformFilter(y.map((v) => v * v), H, W, win);
    const uxy = uniformFilter(x.map((v, i) => v * y[i]), H, W, win);
    let s = 0;
    for (let r = pad; r < H - pad; r++) {
      for (let q = pad; q < W - pad; q++) {
        const i = r * W + q;
        const vx = covNorm * (uxx[i] - ux[i] * ux[i]);
        const vy = covNorm * (uyy[i] - uy[i] * uy[i]);
        const vxy = covNorm * (uxy[i] - ux[i] * uy[i]);
        s += ((2 * ux[i] * uy[i] + C1) * (2 * vxy + C2)) / ((ux[i] ** 2 + uy[i] ** 2 + C1) * (vx + vy + C2));
      }
    }
    total += s / ((H - 2 * pad) * (W - 2 * pad));
  }
  return total / C;
}

/** Per-image PSNR and SSIM of two [B, H, W, C] tensors (read asynchronously; not disposed). */
export async function psnrSsimBatch(a: tf.Tensor, b: tf.Tensor, opts: SsimOptions & { ssim?: boolean } = {}): Promise<{ psnr: number[]; ssim: number[] }> {
  if (a.rank !== 4 || b.shape.join() !== a.shape.join()) throw new ShapeError('psnrSsimBatch', `two [B, H, W, C] tensors of one shape (first [${a.shape}])`, `[${b.shape}]`);
  const [B, H, W, C] = a.shape as number[];
  const integer = a.dtype === 'int32';
  const [da, db] = [await a.data(), await b.data()];
  const n = H * W * C;
  const out = { psnr: [] as number[], ssim: [] as number[] };
  for (let i = 0; i < B; i++) {
    const ia: ImageArray = { data: da.subarray(i * n, (i + 1) * n) as Float32Array, shape: [H, W, C], integer };
    const ib: ImageArray = { data: db.subarray(i * n, (i + 1) * n) as Float32Array, shape: [H, W, C], integer };
    out.psnr.push(psnr(ia, ib, opts));
    if (opts.ssim ?? true) out.ssim.push(ssim(ia, ib, opts));
  }
  return out;
}

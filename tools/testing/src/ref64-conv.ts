// Float64 references for convolution, batch norm and pooling, written from torch's definitions
// (direct loops, NHWC data, PyTorch OIHW weights), independent of tfjs.
import { nd, type Nd } from './ref64.js';

export interface ConvRefOptions {
  stride?: [number, number];
  /** [top, bottom, left, right] zero padding */
  pad?: [number, number, number, number];
  dilation?: [number, number];
  groups?: number;
  /** 'reflect' pads by mirroring (torch padding_mode='reflect'). */
  paddingMode?: 'zeros' | 'reflect';
}

/** torch.nn.functional.conv2d semantics on NHWC x [B,H,W,Cin], weight OIHW [O, Cin/g, kh, kw], bias [O]. */
export function conv2d(x: Nd, weight: Nd, bias: Nd | null, opts: ConvRefOptions = {}): Nd {
  const [B, H, W, C] = x.shape;
  const [O, Ig, kh, kw] = weight.shape;
  const [sh, sw] = opts.stride ?? [1, 1];
  const [pt, pb, pl, pr] = opts.pad ?? [0, 0, 0, 0];
  const [dh, dw] = opts.dilation ?? [1, 1];
  const g = opts.groups ?? 1;
  const mode = opts.paddingMode ?? 'zeros';
  if (Ig * g !== C) throw new Error(`conv2d ref: ${C} input channels vs weight ${Ig} x ${g} groups`);
  const oh = Math.floor((H + pt + pb - dh * (kh - 1) - 1) / sh) + 1;
  const ow = Math.floor((W + pl + pr - dw * (kw - 1) - 1) / sw) + 1;
  const out = nd([B, oh, ow, O]);
  const opg = O / g;
  // weight as [kh, kw, Ig, O] so the innermost loop runs over output channels contiguously
  const wt = new Float64Array(kh * kw * Ig * O);
  for (let o = 0; o < O; o++) for (let ci = 0; ci < Ig; ci++) for (let u = 0; u < kh; u++) for (let v = 0; v < kw; v++) wt[((u * kw + v) * Ig + ci) * O + o] = weight.data[((o * Ig + ci) * kh + u) * kw + v];
  const acc = new Float64Array(O);
  const src = (h: number, n: number): number => {
    if (h >= 0 && h < n) return h;
    if (mode === 'zeros') return -1;
    if (h < 0) h = -h;
    if (h >= n) h = 2 * (n - 1) - h;
    return h;
  };
  for (let b = 0; b < B; b++)
    for (let i = 0; i < oh; i++)
      for (let j = 0; j < ow; j++) {
        for (let o = 0; o < O; o++) acc[o] = bias ? bias.data[o] : 0;
        for (let u = 0; u < kh; u++) {
          const h = src(i * sh - pt + u * dh, H);
          if (h < 0) continue;
          for (let v = 0; v < kw; v++) {
            const w = src(j * sw - pl + v * dw, W);
            if (w < 0) continue;
            const xo = ((b * H + h) * W + w) * C;
            for (let grp = 0; grp < g; grp++) {
              for (let ci = 0; ci < Ig; ci++) {
                const xv = x.data[xo + grp * Ig + ci];
                if (xv === 0) continue;
                const wo = ((u * kw + v) * Ig + ci) * O;
                for (let o = grp * opg; o < (grp + 1) * opg; o++) acc[o] += xv * wt[wo + o];
              }
            }
          }
        }
        out.data.set(acc, ((b * oh + i) * ow + j) * O);
      }
  return out;
}

/** BatchNorm (any statistics) over the last axis: (x - mean) / sqrt(var + eps) * w + b. */
export function batchNorm(x: Nd, mean: ArrayLike<number>, variance: ArrayLike<number>, w: ArrayLike<number> | null, b: ArrayLike<number> | null, eps: number): Nd {
  const C = x.shape[x.shape.length - 1];
  const out = nd(x.shape);
  for (let i = 0; i < x.data.length; i++) {
    const c = i % C;
    out.data[i] = ((x.data[i] - mean[c]) / Math.sqrt(variance[c] + eps)) * (w ? w[c] : 1) + (b ? b[c] : 0);
  }
  return out;
}

/** Per-channel mean and biased / unbiased variance over all but the last axis. */
export function channelMoments(x: Nd): { mean: Float64Array; biased: Float64Array; unbiased: Float64Array } {
  const C = x.shape[x.shape.length - 1];
  const n = x.data.length / C;
  const mean = new Float64Array(C), biased = new Float64Array(C), unbiased = new Float64Array(C);
  for (let i = 0; i < x.data.length; i++) mean[i % C] += x.data[i] / n;
  for (let i = 0; i < x.data.length; i++) biased[i % C] += (x.data[i] - mean[i % C]) ** 2;
  for (let c = 0; c < C; c++) {
    unbiased[c] = biased[c] / (n - 1);
    biased[c] /= n;
  }
  return { mean, biased, unbiased };
}

export interface PoolRefOptions {
  kernel: [number, number];
  stride?: [number, number];
  padding?: [number, number];
  ceilMode?: boolean;
  countIncludePad?: boolean;
  divisorOverride?: number;
}

function poolOut(L: number, k: number, s: number, p: number, ceil: boolean): number {
  let o = Math.floor((L + 2 * p - k + (ceil ? s - 1 : 0)) / s) + 1;
  if (ceil && (o - 1) * s >= L + p) o--;
  return o;
}

/** torch max_pool2d / avg_pool2d on NHWC x, loops over each window as torch's CPU kernel does. */
export function pool2d(x: Nd, kind: 'max' | 'avg', opts: PoolRefOptions): Nd {
  const [B, H, W, C] = x.shape;
  const [kh, kw] = opts.kernel;
  const [sh, sw] = opts.stride ?? opts.kernel;
  const [ph, pw] = opts.padding ?? [0, 0];
  const ceil = opts.ceilMode ?? false;
  const oh = poolOut(H, kh, sh, ph, ceil);
  const ow = poolOut(W, kw, sw, pw, ceil);
  const out = nd([B, oh, ow, C]);
  for (let b = 0; b < B; b++)
    for (let i = 0; i < oh; i++)
      for (let j = 0; j < ow; j++)
        for (let c = 0; c < C; c++) {
          let h0 = i * sh - ph, w0 = j * sw - pw;
          let h1 = Math.min(h0 + kh, H + ph), w1 = Math.min(w0 + kw, W + pw);
          const poolSize = (h1 - h0) * (w1 - w0);
          h0 = Math.max(h0, 0); w0 = Math.max(w0, 0);
          h1 = Math.min(h1, H); w1 = Math.min(w1, W);
          let acc = kind === 'max' ? -Infinity : 0;
          for (let h = h0; h < h1; h++)
            for (let w = w0; w < w1; w++) {
              const v = x.data[((b * H + h) * W + w) * C + c];
              acc = kind === 'max' ? Math.max(acc, v) : acc + v;
            }
          if (kind === 'avg') {
            const div = opts.divisorOverride ?? ((opts.countIncludePad ?? true) ? poolSize : (h1 - h0) * (w1 - w0));
            acc /= div;
          }
          out.data[((b * oh + i) * ow + j) * C + c] = acc;
        }
  return out;
}

/** Central finite-difference gradient of a scalar float64 function at `x` (step h). */
export function finiteDifferenceGrad(f: (x: Float64Array) => number, x: Float64Array, h = 1e-6): Float64Array {
  const g = new Float64Array(x.length);
  const xp = Float64Array.from(x);
  for (let i = 0; i < x.length; i++) {
    const v = xp[i];
    xp[i] = v + h;
    const fp = f(xp);
    xp[i] = v - h;
    const fm = f(xp);
    xp[i] = v;
    g[i] = (fp - fm) / (2 * h);
  }
  return g;
}

// Float64 references for @fae/eval, written from the definitions with plain loops: the cyclic Jacobi
// eigenvalue method, np.cov, TF1 bilinear resize, SSIM by direct window sums, LPIPS (VGG16), softmax
// cross-entropy. Small sizes only.
import { nd, type Nd } from './ref64.js';
import { conv2d, pool2d } from './ref64-conv.js';

/** Eigenvalues of a symmetric n x n matrix by cyclic Jacobi rotations (sorted ascending). */
export function jacobiEigenvalues(a: ArrayLike<number>, n: number): Float64Array {
  const m = Float64Array.from(a);
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += m[p * n + q] ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = m[p * n + q];
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (m[q * n + q] - m[p * n + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = m[k * n + p], akq = m[k * n + q];
          m[k * n + p] = c * akp - s * akq;
          m[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = m[p * n + k], aqk = m[q * n + k];
          m[p * n + k] = c * apk - s * aqk;
          m[q * n + k] = s * apk + c * aqk;
        }
      }
    }
  }
  return Float64Array.from({ length: n }, (_, i) => m[i * n + i]).sort();
}

/** np.mean(x, 0) and np.cov(x, rowvar=False) by the two-pass formula. x: [N, D] row-major. */
export function meanCov(x: ArrayLike<number>, N: number, D: number): { mu: Float64Array; sigma: Float64Array } {
  const mu = new Float64Array(D);
  for (let i = 0; i < N; i++) for (let j = 0; j < D; j++) mu[j] += x[i * D + j] / N;
  const sigma = new Float64Array(D * D);
  for (let i = 0; i < N; i++)
    for (let a = 0; a < D; a++)
      for (let b = 0; b < D; b++) sigma[a * D + b] += ((x[i * D + a] - mu[a]) * (x[i * D + b] - mu[b])) / (N - 1);
  return { mu, sigma };
}

/** TF1 ResizeBilinear (align_corners=False) on NHWC x, coordinates in float32 as the reference. */
export function resizeBilinearTf1(x: Nd, outH: number, outW: number): Nd {
  const [B, H, W, C] = x.shape;
  const f32 = Math.fround;
  const coords = (inS: number, outS: number) =>
    Array.from({ length: outS }, (_, i) => {
      const g = f32(i * f32(inS / outS));
      const lo = Math.floor(g);
      return { lo, hi: Math.min(lo + 1, inS - 1), f: f32(g - lo) };
    });
  const cy = coords(H, outH);
  const cx = coords(W, outW);
  const out = nd([B, outH, outW, C]);
  const at = (b: number, h: number, w: number, c: number) => x.data[((b * H + h) * W + w) * C + c];
  for (let b = 0; b < B; b++)
    for (let i = 0; i < outH; i++)
      for (let j = 0; j < outW; j++)
        for (let c = 0; c < C; c++) {
          const { lo: y0, hi: y1, f: dy } = cy[i];
          const { lo: x0, hi: x1, f: dx } = cx[j];
          const top = at(b, y0, x0, c) + (at(b, y0, x1, c) - at(b, y0, x0, c)) * dx;
          const bot = at(b, y1, x0, c) + (at(b, y1, x1, c) - at(b, y1, x0, c)) * dx;
          out.data[((b * outH + i) * outW + j) * C + c] = top + (bot - top) * dy;
        }
  return out;
}

/** Mean SSIM of [H, W, C] images by explicit 7x7 windows at every pixel whose window fits (skimage defaults). */
export function ssimDirect(a: ArrayLike<number>, b: ArrayLike<number>, H: number, W: number, C: number, dataRange: number, win = 7): number {
  const C1 = (0.01 * dataRange) ** 2;
  const C2 = (0.03 * dataRange) ** 2;
  const np = win * win;
  const r = (win - 1) / 2;
  let total = 0;
  for (let c = 0; c < C; c++) {
    let sum = 0;
    let cnt = 0;
    for (let y = r; y < H - r; y++) {
      for (let x = r; x < W - r; x++) {
        const xs: number[] = [];
        const ys: number[] = [];
        for (let u = -r; u <= r; u++)
          for (let v = -r; v <= r; v++) {
            xs.push(a[((y + u) * W + (x + v)) * C + c]);
            ys.push(b[((y + u) * W + (x + v)) * C + c]);
          }
        const mx = xs.reduce((s, t) => s + t, 0) / np;
        const my = ys.reduce((s, t) => s + t, 0) / np;
        let vx = 0, vy = 0, cxy = 0;
        for (let k = 0; k < np; k++) {
          vx += (xs[k] - mx) ** 2;
          vy += (ys[k] - my) ** 2;
          cxy += (xs[k] - mx) * (ys[k] - my);
        }
        vx /= np - 1;
        vy /= np - 1;
        cxy /= np - 1;
        sum += ((2 * mx * my + C1) * (2 * cxy + C2)) / ((mx * mx + my * my + C1) * (vx + vy + C2));
        cnt++;
      }
    }
    total += sum / cnt;
  }
  return total / C;
}

const VGG_CONVS = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28];
const VGG_POOL_BEFORE = new Set([5, 10, 17, 24]);
const VGG_TAPS = new Set([2, 7, 14, 21, 28]);

/** VGG16 relu1_2 .. relu5_3 of NHWC x in [-1, 1] after LPIPS's ScalingLayer; `vgg`: torchvision weights (OIHW) by key. */
export function lpipsVggFeatures(x: Nd, vgg: Record<string, Nd>): Nd[] {
  const shift = [-0.03, -0.088, -0.188];
  const scale = [0.458, 0.448, 0.45];
  let h = nd(x.shape, Array.from(x.data, (v, i) => (v - shift[i % 3]) / scale[i % 3]));
  const taps: Nd[] = [];
  for (const idx of VGG_CONVS) {
    if (VGG_POOL_BEFORE.has(idx)) h = pool2d(h, 'max', { kernel: [2, 2] });
    h = conv2d(h, vgg[`features.${idx}.weight`], vgg[`features.${idx}.bias`], { pad: [1, 1, 1, 1] });
    h = nd(h.shape, Array.from(h.data, (v) => Math.max(0, v)));
    if (VGG_TAPS.has(idx)) taps.push(h);
  }
  return taps;
}

/** LPIPS per-layer terms [B][5] from the two feature lists and the [1, C, 1, 1] linear weights. */
export function lpipsFromFeatures(fa: Nd[], fb: Nd[], lin: Nd[]): number[][] {
  const B = fa[0].shape[0];
  const out = Array.from({ length: B }, () => new Array<number>(5).fill(0));
  fa.forEach((ta, k) => {
    const [, h, w, C] = ta.shape;
    const tb = fb[k];
    for (let n = 0; n < B; n++)
      for (let p = 0; p < h * w; p++) {
        const o = (n * h * w + p) * C;
        let na = 0, nb = 0;
        for (let c = 0; c < C; c++) {
          na += ta.data[o + c] ** 2;
          nb += tb.data[o + c] ** 2;
        }
        na = Math.sqrt(na) + 1e-10;
        nb = Math.sqrt(nb) + 1e-10;
        let s = 0;
        for (let c = 0; c < C; c++) s += lin[k].data[c] * (ta.data[o + c] / na - tb.data[o + c] / nb) ** 2;
        out[n][k] += s / (h * w);
      }
  });
  return out;
}

/** LPIPS v0.1 (VGG16) in float64: per-layer terms [B][5] of NHWC a, b in [-1, 1]. */
export function lpipsVgg(a: Nd, b: Nd, vgg: Record<string, Nd>, lin: Nd[]): number[][] {
  return lpipsFromFeatures(lpipsVggFeatures(a, vgg), lpipsVggFeatures(b, vgg), lin);
}

/** Mean softmax cross-entropy + (wd / 2) |W|^2 of a linear classifier, float64. x [N, D], W [D, C], b [C]. */
export function linearSoftmaxLoss(x: ArrayLike<number>, N: number, D: number, w: ArrayLike<number>, bias: ArrayLike<number>, C: number, labels: ArrayLike<number>, wd = 0): number {
  let loss = 0;
  for (let i = 0; i < N; i++) {
    const z = new Float64Array(C);
    for (let c = 0; c < C; c++) {
      let s = bias[c];
      for (let d = 0; d < D; d++) s += x[i * D + d] * w[d * C + c];
      z[c] = s;
    }
    const m = Math.max(...z);
    const lse = m + Math.log(z.reduce((s, v) => s + Math.exp(v - m), 0));
    loss += lse - z[labels[i]];
  }
  let l2 = 0;
  for (let i = 0; i < D * C; i++) l2 += w[i] * w[i];
  return loss / N + (wd / 2) * l2;
}

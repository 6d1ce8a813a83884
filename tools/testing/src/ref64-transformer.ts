// Float64 references for transformer building blocks (SwiGLU, rotary embeddings, sin-cos tables,
// timestep features, patch embedding, unpatchify, adaLN modulate, label embedding, multi-head attention,
// the LightningDiT block), written from the PyTorch references' definitions with plain loops.
import { attention, layerNorm, linearTorch, map, nd, rmsNorm, silu, size, transpose, reshape, type Nd } from './ref64.js';

// ---------------------------------------------------------------------------------------------------
// SwiGLU

/** silu(x W_in[:h]) * (x W_in[h:]) then W_out; weights in PyTorch layout ([2h, in], [out, h]). */
export function swigluFFN(x: Nd, wIn: Nd, bIn: Nd | null, wOut: Nd, bOut: Nd | null): Nd {
  const x12 = linearTorch(x, wIn, bIn);
  const h = wIn.shape[0] / 2;
  const rows = size(x12.shape.slice(0, -1));
  const hidden = nd([...x12.shape.slice(0, -1), h]);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < h; j++) hidden.data[r * h + j] = silu(x12.data[r * 2 * h + j]) * x12.data[r * 2 * h + h + j];
  }
  return linearTorch(hidden, wOut, bOut);
}

// ---------------------------------------------------------------------------------------------------
// Rotary embeddings

/** x * cos + rot(x) * sin over the last two axes [.., T, D]; pairs are interleaved or split within `groups`. */
export function applyRotary(x: Nd, cos: Nd, sin: Nd, pairing: 'interleaved' | 'half' = 'interleaved', groups = 1): Nd {
  const D = x.shape[x.shape.length - 1];
  const TD = cos.data.length;
  const out = nd(x.shape);
  const g = D / groups;
  for (let i = 0; i < x.data.length; i++) {
    const c = i % D;
    const base = i - c;
    let partner: number;
    let sign: number;
    if (pairing === 'interleaved') {
      partner = c % 2 === 0 ? c + 1 : c - 1;
      sign = c % 2 === 0 ? -1 : 1;
    } else {
      const off = c % g;
      const gs = c - off;
      partner = off < g / 2 ? gs + off + g / 2 : gs + off - g / 2;
      sign = off < g / 2 ? -1 : 1;
    }
    const rot = sign * x.data[base + partner];
    out.data[i] = x.data[i] * cos.data[i % TD] + rot * sin.data[i % TD];
  }
  return out;
}

/** EVA VisionRotaryEmbeddingFast tables [ft*ft, 2*dim] in float64 (dim = half the head dim, 'lang' freqs). */
export function evaRopeTables(dim: number, ptSeqLen: number, ftSeqLen = ptSeqLen, theta = 10000): { cos: Nd; sin: Nd } {
  const freqs: number[] = [];
  for (let k = 0; k < dim && freqs.length < Math.floor(dim / 2); k += 2) freqs.push(1 / theta ** (k / dim));
  const axis = (p: number) => freqs.flatMap((f) => [p * f, p * f]); // repeat '(n r)', r = 2
  const T = ftSeqLen * ftSeqLen;
  const W = 4 * freqs.length;
  const cos = nd([T, W]);
  const sin = nd([T, W]);
  for (let i = 0; i < ftSeqLen; i++)
    for (let j = 0; j < ftSeqLen; j++) {
      const angles = [...axis((i / ftSeqLen) * ptSeqLen), ...axis((j / ftSeqLen) * ptSeqLen)]; // broadcat(rows, cols)
      angles.forEach((a, c) => {
        cos.data[(i * ftSeqLen + j) * W + c] = Math.cos(a);
        sin.data[(i * ftSeqLen + j) * W + c] = Math.sin(a);
      });
    }
  return { cos, sin };
}

/** Axial 2-D RoPE tables [H*W, Dh]: first half of channels from the row index, second half from the column. */
export function axialRopeTables(headDim: number, gridH: number, gridW: number, pairing: 'interleaved' | 'half', theta = 10000): { cos: Nd; sin: Nd } {
  const a = headDim / 2;
  const cos = nd([gridH * gridW, headDim]);
  const sin = nd([gridH * gridW, headDim]);
  for (let i = 0; i < gridH; i++)
    for (let j = 0; j < gridW; j++)
      for (let c = 0; c < headDim; c++) {
        const axis = c < a ? 0 : 1;
        const off = c % a;
        const k = pairing === 'interleaved' ? Math.floor(off / 2) : off % (a / 2);
        const angle = (axis === 0 ? i : j) * theta ** ((-2 * k) / a);
        cos.data[(i * gridW + j) * headDim + c] = Math.cos(angle);
        sin.data[(i * gridW + j) * headDim + c] = Math.sin(angle);
      }
  return { cos, sin };
}

// ---------------------------------------------------------------------------------------------------
// Tables and embeddings

/** MAE/DiT get_2d_sincos_pos_embed (meshgrid(w, h): first half of channels from the column index). */
export function sincos2d(embedDim: number, gridH: number, gridW: number): Nd {
  const out = nd([gridH * gridW, embedDim]);
  const quarter = embedDim / 4;
  const omega = (k: number) => 1 / 10000 ** (k / quarter);
  for (let i = 0; i < gridH; i++)
    for (let j = 0; j < gridW; j++) {
      const row = out.data.subarray((i * gridW + j) * embedDim, (i * gridW + j + 1) * embedDim);
      for (let k = 0; k < quarter; k++) {
        row[k] = Math.sin(j * omega(k));
        row[quarter + k] = Math.cos(j * omega(k));
        row[2 * quarter + k] = Math.sin(i * omega(k));
        row[3 * quarter + k] = Math.cos(i * omega(k));
      }
    }
  return out;
}

/** DiT timestep features [N, dim]: [cos(t f) | sin(t f)], f_k = exp(-ln(P) k / half). */
export function timestepEmbedding(t: ArrayLike<number>, dim: number, maxPeriod = 10000): Nd {
  const half = Math.floor(dim / 2);
  const out = nd([t.length, dim]);
  for (let n = 0; n < t.length; n++)
    for (let k = 0; k < half; k++) {
      const a = t[n] * Math.exp((-Math.log(maxPeriod) * k) / half);
      out.data[n * dim + k] = Math.cos(a);
      out.data[n * dim + half + k] = Math.sin(a);
    }
  return out;
}

/** Conv2d(kernel = stride = p) then flatten(2).transpose(1, 2): x NHWC [B,H,W,C], w OIHW -> [B, T, O]. */
export function patchEmbed(x: Nd, w: Nd, b: Nd | null, p: number): Nd {
  const [B, H, W, C] = x.shape;
  const O = w.shape[0];
  const gh = H / p, gw = W / p;
  const out = nd([B, gh * gw, O]);
  for (let n = 0; n < B; n++)
    for (let i = 0; i < gh; i++)
      for (let j = 0; j < gw; j++)
        for (let o = 0; o < O; o++) {
          let s = b ? b.data[o] : 0;
          for (let c = 0; c < C; c++)
            for (let ky = 0; ky < p; ky++)
              for (let kx = 0; kx < p; kx++) s += x.data[((n * H + i * p + ky) * W + j * p + kx) * C + c] * w.data[((o * C + c) * p + ky) * p + kx];
          out.data[(n * gh * gw + i * gw + j) * O + o] = s;
        }
  return out;
}

/** DiT unpatchify (reshape (N,h,w,p,p,c), einsum nhwpqc->nchpwq) returned as NHWC [B, h*p, w*p, c]. */
export function unpatchify(x: Nd, p: number, c: number): Nd {
  const [B, T] = x.shape;
  const h = Math.round(Math.sqrt(T));
  const nchw = nd([B, c, h * p, h * p]);
  for (let n = 0; n < B; n++)
    for (let i = 0; i < h; i++)
      for (let j = 0; j < h; j++)
        for (let py = 0; py < p; py++)
          for (let px = 0; px < p; px++)
            for (let ch = 0; ch < c; ch++) {
              const v = x.data[(n * T + i * h + j) * p * p * c + (py * p + px) * c + ch];
              nchw.data[((n * c + ch) * h * p + i * p + py) * h * p + j * p + px] = v;
            }
  return transpose(nchw, [0, 2, 3, 1]);
}

/** x [B, T, D] * (1 + scale[B, D]) + shift[B, D]. */
export function modulate(x: Nd, shift: Nd | null, scale: Nd): Nd {
  const [, T, D] = x.shape;
  return map(x, (v, i) => {
    const b = Math.floor(i / (T * D));
    const d = i % D;
    return v * (1 + scale.data[b * D + d]) + (shift ? shift.data[b * D + d] : 0);
  });
}

/** Rows of `table` [rows, D] for labels, with dropped labels (drop[i] true) replaced by `nullClass`. */
export function labelEmbed(labels: ArrayLike<number>, table: Nd, nullClass: number, drop?: ArrayLike<number | boolean>): Nd {
  const D = table.shape[1];
  const out = nd([labels.length, D]);
  for (let i = 0; i < labels.length; i++) {
    const id = drop && drop[i] ? nullClass : labels[i];
    out.data.set(table.data.subarray(id * D, (id + 1) * D), i * D);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Multi-head attention

export interface MhaRefParams {
  /** Fused qkv [3D, D] (+ bias) or separate q/k/v [D, D]. PyTorch layout. */
  qkvW?: Nd; qkvB?: Nd | null;
  qW?: Nd; qB?: Nd | null; kW?: Nd; kB?: Nd | null; vW?: Nd; vB?: Nd | null;
  projW: Nd; projB: Nd | null;
  qNormW?: Nd | null; qNormB?: Nd | null; kNormW?: Nd | null; kNormB?: Nd | null;
}

export interface MhaRefOptions {
  heads: number;
  qkNorm?: 'layernorm' | 'rmsnorm' | null;
  qkNormEps?: number;
  rope?: { cos: Nd; sin: Nd; pairing?: 'interleaved' | 'half'; groups?: number } | null;
  temperature?: number;
}

/** timm/LightningDiT Attention on x [B, T, D] -> [B, T, D]. */
export function mha(x: Nd, p: MhaRefParams, o: MhaRefOptions): Nd {
  const [B, T, D] = x.shape;
  const H = o.heads, Dh = D / H;
  const heads = (y: Nd) => transpose(reshape(y, [B, T, H, Dh]), [0, 2, 1, 3]); // [B, H, T, Dh]
  let q: Nd, k: Nd, v: Nd;
  if (p.qkvW) {
    const qkv = transpose(reshape(linearTorch(x, p.qkvW, p.qkvB ?? null), [B, T, 3, H, Dh]), [2, 0, 3, 1, 4]); // [3, B, H, T, Dh]
    const n = B * H * T * Dh;
    [q, k, v] = [0, 1, 2].map((s) => nd([B, H, T, Dh], qkv.data.subarray(s * n, (s + 1) * n)));
  } else {
    q = heads(linearTorch(x, p.qW!, p.qB ?? null));
    k = heads(linearTorch(x, p.kW!, p.kB ?? null));
    v = heads(linearTorch(x, p.vW!, p.vB ?? null));
  }
  if (o.qkNorm === 'layernorm') {
    q = layerNorm(q, p.qNormW ?? null, p.qNormB ?? null, o.qkNormEps ?? 1e-5);
    k = layerNorm(k, p.kNormW ?? null, p.kNormB ?? null, o.qkNormEps ?? 1e-5);
  } else if (o.qkNorm === 'rmsnorm') {
    q = rmsNorm(q, p.qNormW ?? null, o.qkNormEps ?? 1e-6);
    k = rmsNorm(k, p.kNormW ?? null, o.qkNormEps ?? 1e-6);
  }
  if (o.rope) {
    q = applyRotary(q, o.rope.cos, o.rope.sin, o.rope.pairing, o.rope.groups);
    k = applyRotary(k, o.rope.cos, o.rope.sin, o.rope.pairing, o.rope.groups);
  }
  const a = attention(q, k, v, { scale: 1 / (Math.sqrt(Dh) * (o.temperature ?? 1)) }); // [B, H, T, Dh]
  return linearTorch(reshape(transpose(a, [0, 2, 1, 3]), [B, T, D]), p.projW, p.projB);
}

// ---------------------------------------------------------------------------------------------------
// Finite differences

/**
 * Central differences of a scalar float64 function at the given flat indices of `x`:
 * (f(x + h e_i) - f(x - h e_i)) / 2h. `x` is restored afterwards.
 */
export function centralDifferences(f: (x: Float64Array) => number, x: Float64Array, indices: number[], h = 1e-5): number[] {
  return indices.map((i) => {
    const v = x[i];
    x[i] = v + h;
    const fp = f(x);
    x[i] = v - h;
    const fm = f(x);
    x[i] = v;
    return (fp - fm) / (2 * h);
  });
}

/** Sum of w * y over all elements: the scalar whose gradient tests compare. */
export function weightedSum(y: Nd, w: Nd): number {
  let s = 0;
  for (let i = 0; i < y.data.length; i++) s += y.data[i] * w.data[i];
  return s;
}

/** `count` spread-out flat indices of an array of length n (deterministic). */
export function sampleIndices(n: number, count: number): number[] {
  if (count >= n) return Array.from({ length: n }, (_, i) => i);
  return Array.from({ length: count }, (_, i) => Math.floor(((i + 0.5) * n) / count));
}

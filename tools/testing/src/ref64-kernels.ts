// Float64 references for the fused WebGPU kernels (attention forward/backward, norms with adaLN
// modulation), written from the definitions with plain loops, plus a central finite-difference
// gradient to check analytic gradients against.
import { nd, type Nd } from './ref64.js';

export interface AttentionRefOptions {
  scale?: number;
  /** query i sees keys j <= i + (Tk - Tq) */
  causal?: boolean;
}

/** Softmax probabilities P [B,H,Tq,Tk] of scale * q k^T (masked entries exactly 0). */
function probabilities(q: Nd, k: Nd, opts: AttentionRefOptions): Nd {
  const [b, h, tq, d] = q.shape;
  const tk = k.shape[2];
  const scale = opts.scale ?? 1 / Math.sqrt(d);
  const p = nd([b, h, tq, tk]);
  const s = new Float64Array(tk);
  for (let g = 0; g < b * h; g++) {
    for (let i = 0; i < tq; i++) {
      const lim = opts.causal ? Math.min(tk, i + (tk - tq) + 1) : tk;
      let m = -Infinity;
      for (let j = 0; j < lim; j++) {
        let acc = 0;
        for (let e = 0; e < d; e++) acc += q.data[(g * tq + i) * d + e] * k.data[(g * tk + j) * d + e];
        s[j] = acc * scale;
        m = Math.max(m, s[j]);
      }
      let sum = 0;
      for (let j = 0; j < lim; j++) sum += (s[j] = Math.exp(s[j] - m));
      for (let j = 0; j < lim; j++) p.data[(g * tq + i) * tk + j] = s[j] / sum;
    }
  }
  return p;
}

/** softmax(scale q k^T [causal]) v: q [B,H,Tq,D], k [B,H,Tk,D], v [B,H,Tk,Dv] -> [B,H,Tq,Dv]. */
export function attention(q: Nd, k: Nd, v: Nd, opts: AttentionRefOptions = {}): Nd {
  const [b, h, tq] = q.shape;
  const tk = k.shape[2];
  const dv = v.shape[3];
  const p = probabilities(q, k, opts);
  const o = nd([b, h, tq, dv]);
  for (let g = 0; g < b * h; g++)
    for (let i = 0; i < tq; i++)
      for (let j = 0; j < tk; j++) {
        const pij = p.data[(g * tq + i) * tk + j];
        if (pij === 0) continue;
        for (let e = 0; e < dv; e++) o.data[(g * tq + i) * dv + e] += pij * v.data[(g * tk + j) * dv + e];
      }
  return o;
}

/** Analytic gradients of sum(attention(q, k, v) * dO) w.r.t. q, k, v. */
export function attentionGrads(q: Nd, k: Nd, v: Nd, dO: Nd, opts: AttentionRefOptions = {}): { dq: Nd; dk: Nd; dv: Nd } {
  const [b, h, tq, d] = q.shape;
  const tk = k.shape[2];
  const dvw = v.shape[3];
  const scale = opts.scale ?? 1 / Math.sqrt(d);
  const p = probabilities(q, k, opts);
  const dq = nd(q.shape), dk = nd(k.shape), dv = nd(v.shape);
  const dp = new Float64Array(tk);
  for (let g = 0; g < b * h; g++)
    for (let i = 0; i < tq; i++) {
      const row = (g * tq + i) * tk;
      // dP = dO v^T; dS = P (dP - sum_j P dP)
      let dot = 0;
      for (let j = 0; j < tk; j++) {
        let acc = 0;
        for (let e = 0; e < dvw; e++) acc += dO.data[(g * tq + i) * dvw + e] * v.data[(g * tk + j) * dvw + e];
        dp[j] = acc;
        dot += p.data[row + j] * acc;
      }
      for (let j = 0; j < tk; j++) {
        const pij = p.data[row + j];
        if (pij === 0) continue;
        for (let e = 0; e < dvw; e++) dv.data[(g * tk + j) * dvw + e] += pij * dO.data[(g * tq + i) * dvw + e];
        const ds = pij * (dp[j] - dot) * scale;
        for (let e = 0; e < d; e++) {
          dq.data[(g * tq + i) * d + e] += ds * k.data[(g * tk + j) * d + e];
          dk.data[(g * tk + j) * d + e] += ds * q.data[(g * tq + i) * d + e];
        }
      }
    }
  return { dq, dk, dv };
}

export interface NormRefParams {
  kind: 'layer' | 'rms';
  eps: number;
  weight?: Nd | null;
  bias?: Nd | null;
}

/**
 * LayerNorm / RMSNorm over the last axis, then optionally y * (1 + scale[b]) + shift[b] with
 * scale/shift [B, D] over x [B, T, D] (adaLN `modulate`).
 */
export function normModulate(x: Nd, p: NormRefParams, shift: Nd | null = null, scale: Nd | null = null): Nd {
  const d = x.shape[x.shape.length - 1];
  const rows = x.data.length / d;
  const perBatch = scale ? x.shape[1] : rows;
  const out = nd(x.shape);
  for (let r = 0; r < rows; r++) {
    const o = r * d;
    let mean = 0;
    if (p.kind === 'layer') {
      for (let e = 0; e < d; e++) mean += x.data[o + e];
      mean /= d;
    }
    let ms = 0;
    for (let e = 0; e < d; e++) ms += (x.data[o + e] - mean) ** 2;
    const rstd = 1 / Math.sqrt(ms / d + p.eps);
    const bi = Math.floor(r / perBatch) * d;
    for (let e = 0; e < d; e++) {
      let y = (x.data[o + e] - mean) * rstd;
      if (p.weight) y *= p.weight.data[e];
      if (p.bias) y += p.bias.data[e];
      if (scale) y *= 1 + scale.data[bi + e];
      if (shift) y += shift.data[bi + e];
      out.data[o + e] = y;
    }
  }
  return out;
}

/** d f / d x by central differences in float64 (step h), for every element of x. */
export function finiteDifferenceGrad(f: (x: Nd) => number, x: Nd, h = 1e-5): Nd {
  const g = nd(x.shape);
  const probe = nd(x.shape, x.data);
  for (let i = 0; i < x.data.length; i++) {
    const x0 = probe.data[i];
    probe.data[i] = x0 + h;
    const up = f(probe);
    probe.data[i] = x0 - h;
    const down = f(probe);
    probe.data[i] = x0;
    g.data[i] = (up - down) / (2 * h);
  }
  return g;
}

/** sum(a * b) over all elements. */
export function dotAll(a: Nd, b: Nd): number {
  let s = 0;
  for (let i = 0; i < a.data.length; i++) s += a.data[i] * b.data[i];
  return s;
}

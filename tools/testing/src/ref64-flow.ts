// Float64 references for TARFlow / STARFlow (apple/ml-tarflow transformer_flow.py, apple/ml-starflow),
// written from upstream's definitions with plain loops over a PyTorch-layout state dict. The reverse
// reference recomputes the whole causal prefix at every token (no KV cache), so it checks the cache
// logic of the implementation independently.
import { attention, gelu, layerNorm, linearTorch, map, nd, transpose, reshape, type Nd } from './ref64.js';

export type StateDict64 = Map<string, Nd>;

/** The state dict of a module (Module.stateDict()) as float64 arrays. */
export async function stateDict64(module: { stateDict(): Promise<Map<string, { shape: number[]; data: ArrayLike<number> }>> }): Promise<StateDict64> {
  const out: StateDict64 = new Map();
  for (const [k, v] of await module.stateDict()) out.set(k, nd(v.shape, v.data));
  return out;
}

export interface FlowRefConfig {
  /** Transformer layers of each block. */
  layers: number[];
  headDim: number;
  nvp: boolean;
  /** Grid side (tokens T = grid^2); needed for RoPE positions. */
  grid: number;
  /** STARFlow RoPE (no pos_embed). */
  rope?: boolean;
}

export type GuidanceRef = { guidance: number; guideWhat?: string; attnTemp?: number; annealed?: boolean; method?: 'tarflow' | 'starflow' };

function get(sd: StateDict64, key: string): Nd {
  const t = sd.get(key);
  if (!t) throw new Error(`ref64-flow: no tensor '${key}' in the state dict`);
  return t;
}

/** x [B, H, W, C] -> tokens [B, T, C p^2] with torch unfold's feature order (c, i, j). */
export function patchify(x: Nd, p: number): Nd {
  const [B, H, W, C] = x.shape;
  const g = H / p;
  const D = C * p * p;
  const out = nd([B, g * (W / p), D]);
  for (let b = 0; b < B; b++)
    for (let r = 0; r < H; r++)
      for (let c = 0; c < W; c++)
        for (let ch = 0; ch < C; ch++) {
          const t = Math.floor(r / p) * (W / p) + Math.floor(c / p);
          const f = ch * p * p + (r % p) * p + (c % p);
          out.data[(b * out.shape[1] + t) * D + f] = x.data[((b * H + r) * W + c) * C + ch];
        }
  return out;
}

/** Reverses the token order of [B, T, D]. */
export function flipTokens(x: Nd): Nd {
  const [B, T, D] = x.shape;
  const out = nd(x.shape);
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) out.data.set(x.data.subarray((b * T + t) * D, (b * T + t + 1) * D), (b * T + (T - 1 - t)) * D);
  return out;
}

/** STARFlow's 2-D RoPE at sequence positions 0..T-1 (row t / grid, column t % grid), interleaved pairs. */
function rope(x: Nd, grid: number): Nd {
  const [B, H, T, Dh] = x.shape;
  const half = Dh / 2;
  const out = nd(x.shape);
  for (let bh = 0; bh < B * H; bh++)
    for (let t = 0; t < T; t++) {
      const o = (bh * T + t) * Dh;
      for (let c = 0; c < Dh; c += 2) {
        const axisPos = c < half ? Math.floor(t / grid) : t % grid;
        const k = (c % half) / 2;
        const angle = axisPos / Math.pow(10000, (2 * k) / half);
        const [x0, x1] = [x.data[o + c], x.data[o + c + 1]];
        out.data[o + c] = x0 * Math.cos(angle) - x1 * Math.sin(angle);
        out.data[o + c + 1] = x1 * Math.cos(angle) + x0 * Math.sin(angle);
      }
    }
  return out;
}

/** One AttentionBlock over [B, T, C] with causal attention and temperature. */
function attentionBlock(sd: StateDict64, p: string, x: Nd, cfg: FlowRefConfig, temp: number): Nd {
  const [B, T, C] = x.shape;
  const H = C / cfg.headDim;
  const h = layerNorm(x, get(sd, `${p}attention.norm.weight`), get(sd, `${p}attention.norm.bias`), 1e-5);
  const qkv = linearTorch(h, get(sd, `${p}attention.qkv.weight`), get(sd, `${p}attention.qkv.bias`)); // [B, T, 3C]
  const heads = transpose(reshape(qkv, [B, T, 3 * H, cfg.headDim]), [0, 2, 1, 3]); // [B, 3H, T, Dh]
  const part = (i: number) => {
    const o = nd([B, H, T, cfg.headDim]);
    const n = H * T * cfg.headDim;
    for (let b = 0; b < B; b++) o.data.set(heads.data.subarray(b * 3 * n + i * n, b * 3 * n + (i + 1) * n), b * n);
    return o;
  };
  let [q, k] = [part(0), part(1)];
  const v = part(2);
  if (cfg.rope) [q, k] = [rope(q, cfg.grid), rope(k, cfg.grid)];
  const a = attention(q, k, v, { causal: true, scale: 1 / Math.sqrt(cfg.headDim) / temp }); // [B, H, T, Dh]
  const merged = reshape(transpose(a, [0, 2, 1, 3]), [B, T, C]);
  const projected = linearTorch(merged, get(sd, `${p}attention.proj.weight`), get(sd, `${p}attention.proj.bias`));
  const x1 = map(x, (v0, i) => v0 + projected.data[i]);
  const m = layerNorm(x1, get(sd, `${p}mlp.norm.weight`), get(sd, `${p}mlp.norm.bias`), 1e-5);
  const f = linearTorch(map(linearTorch(m, get(sd, `${p}mlp.main.0.weight`), get(sd, `${p}mlp.main.0.bias`)), gelu), get(sd, `${p}mlp.main.2.weight`), get(sd, `${p}mlp.main.2.bias`));
  return map(x1, (v0, i) => v0 + f.data[i]);
}

/**
 * The transformer of block `bi` on tokens already in the block's order [B, t, D] (t <= T) ->
 * proj_out output [B, t, 2D | D] (position i predicts token i + 1). `labels`: class per sample,
 * negative or null = the mean class embedding.
 */
function blockNet(sd: StateDict64, bi: number, xp: Nd, labels: number[] | null, cfg: FlowRefConfig, flip: boolean, temp: number): Nd {
  const p = `blocks.${bi}.`;
  const [B, t] = xp.shape;
  let h = linearTorch(xp, get(sd, `${p}proj_in.weight`), get(sd, `${p}proj_in.bias`)); // [B, t, C]
  const C = h.shape[2];
  if (!cfg.rope) {
    const pos = get(sd, `${p}pos_embed`); // [T, C]
    const T = pos.shape[0];
    h = map(h, (v, i) => {
      const tok = Math.floor(i / C) % t;
      const row = flip ? T - 1 - tok : tok;
      return v + pos.data[row * C + (i % C)];
    });
  }
  const ce = sd.get(`${p}class_embed`);
  if (ce) {
    const K = ce.shape[0];
    const mean = new Float64Array(C);
    for (let k = 0; k < K; k++) for (let c = 0; c < C; c++) mean[c] += ce.data[k * C + c] / K;
    h = map(h, (v, i) => {
      const b = Math.floor(i / (t * C));
      const y = labels ? labels[b] : -1;
      return v + (y >= 0 ? ce.data[y * C + (i % C)] : mean[i % C]);
    });
  }
  for (let l = 0; l < cfg.layers[bi]; l++) h = attentionBlock(sd, `${p}attn_blocks.${l}.`, h, cfg, temp);
  void B;
  return linearTorch(h, get(sd, `${p}proj_out.weight`), get(sd, `${p}proj_out.bias`));
}

/** (a, b) of position i of the proj_out output (a = 0 for shift-only blocks). */
function affineAt(out: Nd, b: number, i: number, D: number, nvp: boolean): { a: Float64Array; s: Float64Array } {
  const [, t, W] = out.shape;
  const row = out.data.subarray((b * t + i) * W, (b * t + i + 1) * W);
  return nvp ? { a: Float64Array.from(row.subarray(0, D)), s: Float64Array.from(row.subarray(D, 2 * D)) } : { a: new Float64Array(D), s: Float64Array.from(row) };
}

/** MetaBlock forward: tokens [B, T, D] (raster) -> { x [B, T, D], logdet [B] (mean of -a) }. */
export function metaBlockForward(sd: StateDict64, bi: number, x: Nd, labels: number[] | null, cfg: FlowRefConfig): { x: Nd; logdet: Float64Array } {
  const flip = bi % 2 === 1;
  const xp = flip ? flipTokens(x) : x;
  const [B, T, D] = xp.shape;
  const out = blockNet(sd, bi, xp, labels, cfg, flip, 1);
  const z = nd(xp.shape);
  const logdet = new Float64Array(B);
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T; t++) {
      const { a, s } = t === 0 ? { a: new Float64Array(D), s: new Float64Array(D) } : affineAt(out, b, t - 1, D, cfg.nvp);
      for (let d = 0; d < D; d++) {
        const i = (b * T + t) * D + d;
        z.data[i] = (xp.data[i] - s[d]) * Math.exp(-a[d]);
        logdet[b] -= a[d] / (T * D);
      }
    }
  return { x: flip ? flipTokens(z) : z, logdet };
}

/** Model forward on tokens [B, T, D]: { z, outputs, logdet [B] }. */
export function tarflowForward(sd: StateDict64, tokens: Nd, labels: number[] | null, cfg: FlowRefConfig): { z: Nd; outputs: Nd[]; logdet: Float64Array } {
  let x = tokens;
  const outputs: Nd[] = [];
  const logdet = new Float64Array(tokens.shape[0]);
  for (let bi = 0; bi < cfg.layers.length; bi++) {
    const r = metaBlockForward(sd, bi, x, labels, cfg);
    x = r.x;
    outputs.push(x);
    r.logdet.forEach((v, b) => (logdet[b] += v));
  }
  return { z: x, outputs, logdet };
}

/** Exact NLL in nats per sample under the prior N(0, var) (sd 'var' [T, D]). */
export function tarflowNll(sd: StateDict64, tokens: Nd, labels: number[] | null, cfg: FlowRefConfig): Float64Array {
  const { z, logdet } = tarflowForward(sd, tokens, labels, cfg);
  const v = get(sd, 'var');
  const [B, T, D] = z.shape;
  const n = T * D;
  const out = new Float64Array(B);
  for (let b = 0; b < B; b++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += z.data[b * n + i] ** 2 / v.data[i] + Math.log(v.data[i]) + Math.log(2 * Math.PI);
    out[b] = 0.5 * s - n * logdet[b];
  }
  return out;
}

/**
 * Reverse of the model (noise tokens z [B, T, D] -> tokens), without a KV cache: every token step
 * re-runs the block's transformer on the whole prefix. Guidance: TARFlow's (a, b) extrapolation or
 * STARFlow's formula; `topOnly` guides (and conditions) only the last block.
 */
export function tarflowReverse(sd: StateDict64, z: Nd, labels: number[] | null, cfg: FlowRefConfig, g: GuidanceRef = { guidance: 0 }, topOnly = false): Nd {
  const v = get(sd, 'var');
  const [B, T, D] = z.shape;
  let x = map(z, (val, i) => val * Math.sqrt(v.data[i % (T * D)]));
  const nBlocks = cfg.layers.length;
  for (let bi = nBlocks - 1; bi >= 0; bi--) {
    const flip = bi % 2 === 1;
    const guided = g.guidance > 0 && (g.guideWhat ?? 'ab') !== '' && (!topOnly || bi === nBlocks - 1);
    const xp = flip ? flipTokens(x) : nd(x.shape, x.data);
    for (let i = 0; i < T - 1; i++) {
      const prefix = nd([B, i + 1, D]);
      for (let b = 0; b < B; b++) prefix.data.set(xp.data.subarray(b * T * D, (b * T + i + 1) * D), b * (i + 1) * D);
      const out = blockNet(sd, bi, prefix, labels, cfg, flip, 1);
      const outU = guided ? blockNet(sd, bi, prefix, null, cfg, flip, g.attnTemp ?? 1) : null;
      const w = g.annealed ? ((i + 1) / (T - 1)) * g.guidance : g.guidance;
      for (let b = 0; b < B; b++) {
        const c = affineAt(out, b, i, D, cfg.nvp);
        const u = outU ? affineAt(outU, b, i, D, cfg.nvp) : null;
        for (let d = 0; d < D; d++) {
          let scale = Math.exp(c.a[d]);
          let shift = c.s[d];
          if (u && (g.method ?? 'tarflow') === 'tarflow') {
            const gw = g.guideWhat ?? 'ab';
            const a = gw.includes('a') ? c.a[d] + w * (c.a[d] - u.a[d]) : c.a[d];
            shift = gw.includes('b') ? c.s[d] + w * (c.s[d] - u.s[d]) : c.s[d];
            scale = Math.exp(a);
          } else if (u) {
            const sc = Math.exp(c.a[d]);
            const su = Math.exp(u.a[d]);
            const s = Math.min(sc / su, 1) ** 2;
            const den = 1 + w - w * s;
            scale = sc / Math.sqrt(den);
            shift = ((1 + w) * c.s[d] - w * s * u.s[d]) / den;
          }
          const idx = (b * T + i + 1) * D + d;
          xp.data[idx] = xp.data[idx] * scale + shift;
        }
      }
    }
    x = flip ? flipTokens(xp) : xp;
  }
  return x;
}

/** log|det| of a square matrix [n, n] (row-major) by LU with partial pivoting. */
export function logAbsDet(m: Float64Array, n: number): number {
  const a = Float64Array.from(m);
  let s = 0;
  for (let c = 0; c < n; c++) {
    let piv = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(a[r * n + c]) > Math.abs(a[piv * n + c])) piv = r;
    if (a[piv * n + c] === 0) return -Infinity;
    if (piv !== c) for (let k = 0; k < n; k++) [a[c * n + k], a[piv * n + k]] = [a[piv * n + k], a[c * n + k]];
    s += Math.log(Math.abs(a[c * n + c]));
    for (let r = c + 1; r < n; r++) {
      const f = a[r * n + c] / a[c * n + c];
      for (let k = c; k < n; k++) a[r * n + k] -= f * a[c * n + k];
    }
  }
  return s;
}

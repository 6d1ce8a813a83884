// Float64 references of the transformers DINOv2 and SigLIP vision models, written from the model
// definitions over PyTorch-layout state dicts (keys as transformers names them) and NCHW pixels.
import * as r from './ref64.js';
import { antialiasMatrix, resize2d, torchBicubicMatrix } from './ref64-images.js';
import type { Nd } from './ref64.js';

export interface RefVitConfig {
  kind: 'dinov2' | 'siglip';
  hidden: number;
  heads: number;
  layers: number;
  patch: number;
  /** Position grid side at the pre-training resolution. */
  grid: number;
  eps: number;
  act: 'gelu' | 'gelu_tanh';
  /** DINOv2 registers (0 for none). */
  registers: number;
  swiglu: boolean;
  /** DINOv2 with registers: antialiased (PIL-style a=-0.5) position interpolation. */
  antialiasPos: boolean;
  /** SigLIP: the attention-pooling head. */
  head: boolean;
}

export interface RefVitOutput {
  last: Nd; // [B, T, D]
  pooled: Nd | null; // [B, D]
  hidden: Nd[]; // [embeddings, layer 1, ...]
}

type StateDict = Map<string, Nd>;

function get(sd: StateDict, key: string): Nd {
  const t = sd.get(key);
  if (!t) throw new Error(`ref64 encoder: missing ${key}`);
  return t;
}

/** Conv2d(kernel = stride = p) on NCHW x -> tokens [B, h*w, D] in row-major grid order. */
export function patchEmbed(x: Nd, w: Nd, b: Nd, p: number): Nd {
  const [bs, c, hh, ww] = x.shape;
  const d = w.shape[0];
  const h = Math.floor(hh / p);
  const wd = Math.floor(ww / p);
  const out = r.nd([bs, h * wd, d]);
  for (let n = 0; n < bs; n++)
    for (let i = 0; i < h; i++)
      for (let j = 0; j < wd; j++)
        for (let o = 0; o < d; o++) {
          let s = b.data[o];
          for (let ch = 0; ch < c; ch++)
            for (let kh = 0; kh < p; kh++)
              for (let kw = 0; kw < p; kw++) s += w.data[((o * c + ch) * p + kh) * p + kw] * x.data[((n * c + ch) * hh + i * p + kh) * ww + j * p + kw];
          out.data[(n * h * wd + i * wd + j) * d + o] = s;
        }
  return out;
}

/** A [g*g, D] table resized to [h*w, D] (torch bicubic a=-0.75, or antialiased a=-0.5). */
export function interpolateTable(table: Nd, g: number, h: number, w: number, antialias: boolean): Nd {
  const d = table.shape[1];
  const grid = r.nd([1, g, g, d], table.data);
  const mh = antialias ? antialiasMatrix(g, h, 'bicubic') : torchBicubicMatrix(g, h);
  const mw = antialias ? antialiasMatrix(g, w, 'bicubic') : torchBicubicMatrix(g, w);
  return r.reshape(resize2d(grid, mh, mw, h, w), [h * w, d]);
}

/** Multi-head self-attention of projected q, k, v [B, T, D] -> [B, T, D] (before the output projection). */
function selfAttention(q: Nd, k: Nd, v: Nd, heads: number): Nd {
  const [b, t, d] = q.shape;
  const split = (y: Nd) => r.transpose(r.reshape(y, [b, t, heads, d / heads]), [0, 2, 1, 3]);
  return r.reshape(r.transpose(r.attention(split(q), split(k), split(v)), [0, 2, 1, 3]), [b, t, d]);
}

function mhaCross(query: Nd, kv: Nd, sd: StateDict, pre: string, heads: number): Nd {
  const d = query.shape[2];
  const w = get(sd, `${pre}in_proj_weight`);
  const bias = get(sd, `${pre}in_proj_bias`);
  const rows = (i: number) => r.nd([d, d], w.data.subarray(i * d * d, (i + 1) * d * d));
  const bs = (i: number) => r.nd([d], bias.data.subarray(i * d, (i + 1) * d));
  const q = r.linearTorch(query, rows(0), bs(0));
  const k = r.linearTorch(kv, rows(1), bs(1));
  const v = r.linearTorch(kv, rows(2), bs(2));
  const [b, tq] = query.shape;
  const tk = kv.shape[1];
  const split = (y: Nd, t: number) => r.transpose(r.reshape(y, [b, t, heads, d / heads]), [0, 2, 1, 3]);
  const ctx = r.reshape(r.transpose(r.attention(split(q, tq), split(k, tk), split(v, tk)), [0, 2, 1, 3]), [b, tq, d]);
  return r.linearTorch(ctx, get(sd, `${pre}out_proj.weight`), get(sd, `${pre}out_proj.bias`));
}

const actFn = (a: RefVitConfig['act']) => (a === 'gelu' ? r.gelu : r.geluTanh);

function mlp(x: Nd, sd: StateDict, pre: string, act: RefVitConfig['act']): Nd {
  const h = r.map(r.linearTorch(x, get(sd, `${pre}fc1.weight`), get(sd, `${pre}fc1.bias`)), actFn(act));
  return r.linearTorch(h, get(sd, `${pre}fc2.weight`), get(sd, `${pre}fc2.bias`));
}

function swiglu(x: Nd, sd: StateDict, pre: string): Nd {
  const h = r.linearTorch(x, get(sd, `${pre}weights_in.weight`), get(sd, `${pre}weights_in.bias`));
  const f = h.shape[h.shape.length - 1] / 2;
  const g = r.rows(h, (row) => Array.from({ length: f }, (_, i) => r.silu(row[i]) * row[f + i]), f);
  return r.linearTorch(g, get(sd, `${pre}weights_out.weight`), get(sd, `${pre}weights_out.bias`));
}

const add = (a: Nd, b: Nd) => r.map(a, (x, i) => x + b.data[i]);
const lnOf = (x: Nd, sd: StateDict, pre: string, eps: number) => r.layerNorm(x, get(sd, `${pre}weight`), sd.get(`${pre}bias`) ?? null, eps);
const optBias = (sd: StateDict, key: string) => sd.get(key) ?? null;

/** Forward pass of Dinov2Model / Dinov2WithRegistersModel / SiglipVisionTransformer in float64. */
export function vitForward(cfg: RefVitConfig, sd: StateDict, pixelsNchw: Nd): RefVitOutput {
  const [b, , hh, ww] = pixelsNchw.shape;
  const d = cfg.hidden;
  const h = Math.floor(hh / cfg.patch);
  const w = Math.floor(ww / cfg.patch);
  const g = cfg.grid;
  let x: Nd;
  if (cfg.kind === 'dinov2') {
    const patches = patchEmbed(pixelsNchw, get(sd, 'embeddings.patch_embeddings.projection.weight'), get(sd, 'embeddings.patch_embeddings.projection.bias'), cfg.patch);
    const pos = get(sd, 'embeddings.position_embeddings'); // [1, 1 + g*g, D]
    const clsPos = pos.data.subarray(0, d);
    let patchPos = r.nd([g * g, d], pos.data.subarray(d));
    if (!(h * w === g * g && hh === ww)) patchPos = interpolateTable(patchPos, g, h, w, cfg.antialiasPos);
    const cls = get(sd, 'embeddings.cls_token').data;
    const regs = cfg.registers ? get(sd, 'embeddings.register_tokens').data : new Float64Array(0);
    const t = 1 + cfg.registers + h * w;
    x = r.nd([b, t, d]);
    for (let n = 0; n < b; n++) {
      for (let k = 0; k < d; k++) x.data[n * t * d + k] = cls[k] + clsPos[k];
      x.data.set(regs, n * t * d + d);
      for (let p = 0; p < h * w; p++)
        for (let k = 0; k < d; k++) x.data[(n * t + 1 + cfg.registers + p) * d + k] = patches.data[(n * h * w + p) * d + k] + patchPos.data[p * d + k];
    }
  } else {
    const patches = patchEmbed(pixelsNchw, get(sd, 'embeddings.patch_embedding.weight'), get(sd, 'embeddings.patch_embedding.bias'), cfg.patch);
    let table = get(sd, 'embeddings.position_embedding.weight'); // [g*g, D]
    if (!(h * w === g * g && hh === ww)) table = interpolateTable(table, g, h, w, false);
    x = r.map(patches, (v, i) => v + table.data[i % (h * w * d)]);
  }
  const hidden = [x];
  for (let l = 0; l < cfg.layers; l++) {
    if (cfg.kind === 'dinov2') {
      const pre = `encoder.layer.${l}.`;
      const n1 = lnOf(x, sd, `${pre}norm1.`, cfg.eps);
      const a = `${pre}attention.attention.`;
      const q = r.linearTorch(n1, get(sd, `${a}query.weight`), optBias(sd, `${a}query.bias`));
      const k = r.linearTorch(n1, get(sd, `${a}key.weight`), optBias(sd, `${a}key.bias`));
      const v = r.linearTorch(n1, get(sd, `${a}value.weight`), optBias(sd, `${a}value.bias`));
      const att = r.linearTorch(selfAttention(q, k, v, cfg.heads), get(sd, `${pre}attention.output.dense.weight`), get(sd, `${pre}attention.output.dense.bias`));
      x = add(x, r.mulSuffix(att, get(sd, `${pre}layer_scale1.lambda1`)));
      const n2 = lnOf(x, sd, `${pre}norm2.`, cfg.eps);
      const f = cfg.swiglu ? swiglu(n2, sd, `${pre}mlp.`) : mlp(n2, sd, `${pre}mlp.`, cfg.act);
      x = add(x, r.mulSuffix(f, get(sd, `${pre}layer_scale2.lambda1`)));
    } else {
      const pre = `encoder.layers.${l}.`;
      const n1 = lnOf(x, sd, `${pre}layer_norm1.`, cfg.eps);
      const a = `${pre}self_attn.`;
      const q = r.linearTorch(n1, get(sd, `${a}q_proj.weight`), get(sd, `${a}q_proj.bias`));
      const k = r.linearTorch(n1, get(sd, `${a}k_proj.weight`), get(sd, `${a}k_proj.bias`));
      const v = r.linearTorch(n1, get(sd, `${a}v_proj.weight`), get(sd, `${a}v_proj.bias`));
      x = add(x, r.linearTorch(selfAttention(q, k, v, cfg.heads), get(sd, `${a}out_proj.weight`), get(sd, `${a}out_proj.bias`)));
      x = add(x, mlp(lnOf(x, sd, `${pre}layer_norm2.`, cfg.eps), sd, `${pre}mlp.`, cfg.act));
    }
    hidden.push(x);
  }
  const finalNorm = cfg.kind === 'dinov2' ? 'layernorm.' : 'post_layernorm.';
  const last = lnOf(x, sd, finalNorm, cfg.eps);
  let pooled: Nd | null = null;
  const t = last.shape[1];
  if (cfg.kind === 'dinov2') {
    pooled = r.nd([b, d]);
    for (let n = 0; n < b; n++) pooled.data.set(last.data.subarray(n * t * d, n * t * d + d), n * d);
  } else if (cfg.head) {
    const probe = get(sd, 'head.probe');
    const q = r.nd([b, 1, d]);
    for (let n = 0; n < b; n++) q.data.set(probe.data, n * d);
    const hA = mhaCross(q, last, sd, 'head.attention.', cfg.heads);
    const out = add(hA, mlp(lnOf(hA, sd, 'head.layernorm.', cfg.eps), sd, 'head.mlp.', cfg.act));
    pooled = r.reshape(out, [b, d]);
  }
  return { last, pooled, hidden };
}

/** Patch tokens of `tokens` [B, T, D] (prefix dropped), optionally LayerNorm'd without affine. */
export function patchTokens(tokens: Nd, prefix: number): Nd {
  const [b, t, d] = tokens.shape;
  const out = r.nd([b, t - prefix, d]);
  for (let n = 0; n < b; n++) out.data.set(tokens.data.subarray((n * t + prefix) * d, (n + 1) * t * d), n * (t - prefix) * d);
  return out;
}

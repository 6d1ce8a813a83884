// Float64 references for the FAE models (@fae/adapter, @fae/decoders): the single-attention encoder,
// the feature decoder, the pixel decoder, the Gaussian KL and the GAN losses, written from their
// definitions (the paper's Fig. 7, LightningDiT blocks, RAE's ViT-MAE decoder) with plain loops.
// Parameters are given as a state dict in PyTorch layout (key -> Nd), as Module.stateDict() returns.
import { attention, gelu, layerNorm, linearTorch, map, nd, reshape, rmsNorm, transpose, type Nd } from './ref64.js';
import { applyRotary, axialRopeTables, mha, swigluFFN, unpatchify } from './ref64-transformer.js';
import { batchNorm, channelMoments, conv2d } from './ref64-conv.js';

export type StateDict64 = Map<string, Nd>;

/** Converts Module.stateDict() output to float64 arrays. */
export function stateDict64(sd: Map<string, { shape: number[]; data: ArrayLike<number> }>): StateDict64 {
  return new Map([...sd].map(([k, v]) => [k, nd(v.shape, v.data)]));
}

function get(sd: StateDict64, key: string): Nd {
  const v = sd.get(key);
  if (!v) throw new Error(`ref64-fae: state dict has no '${key}'`);
  return v;
}

const opt = (sd: StateDict64, key: string): Nd | null => sd.get(key) ?? null;

/** a + b with b broadcast over a's leading dims (b's shape a suffix of a's, leading 1s allowed). */
function addBroadcast(a: Nd, b: Nd): Nd {
  const n = b.data.length;
  return map(a, (x, i) => x + b.data[i % n]);
}

function add(a: Nd, b: Nd): Nd {
  return map(a, (x, i) => x + b.data[i]);
}

/** Splits the last axis [.., 2c] into its halves. */
export function splitLast(x: Nd): [Nd, Nd] {
  const c2 = x.shape[x.shape.length - 1];
  const c = c2 / 2;
  const rows = x.data.length / c2;
  const lead = x.shape.slice(0, -1);
  const a = nd([...lead, c]);
  const b = nd([...lead, c]);
  for (let r = 0; r < rows; r++) {
    a.data.set(x.data.subarray(r * c2, r * c2 + c), r * c);
    b.data.set(x.data.subarray(r * c2 + c, (r + 1) * c2), r * c);
  }
  return [a, b];
}

// ---------------------------------------------------------------------------------------------------
// SingleAttentionEncoder

export interface AdapterRefConfig {
  latentChannels: number;
  depth: number;
  heads: number;
  headDim: number;
  preNorm: boolean;
  mlp: boolean;
  activation: 'gelu' | 'identity';
  positions: 'none' | 'sincos' | 'learned' | 'rope';
  logvarClamp: [number, number];
}

/** Wide-head attention of Fig. 7: qkv [3*H*Dh, D], proj [D, H*Dh]. x: [B, T, D] -> [B, T, D]. */
export function wideAttention(x: Nd, qkvW: Nd, qkvB: Nd | null, projW: Nd, projB: Nd | null, heads: number, headDim: number, rope?: { cos: Nd; sin: Nd } | null): Nd {
  const [B, T] = x.shape;
  const hidden = heads * headDim;
  const qkv = transpose(reshape(linearTorch(x, qkvW, qkvB), [B, T, 3, heads, headDim]), [2, 0, 3, 1, 4]); // [3, B, H, T, Dh]
  const n = B * heads * T * headDim;
  let [q, k, v] = [0, 1, 2].map((s) => nd([B, heads, T, headDim], qkv.data.subarray(s * n, (s + 1) * n)));
  if (rope) {
    q = applyRotary(q, rope.cos, rope.sin, 'interleaved', 2);
    k = applyRotary(k, rope.cos, rope.sin, 'interleaved', 2);
  }
  const a = attention(q, k, v); // [B, H, T, Dh]
  return linearTorch(reshape(transpose(a, [0, 2, 1, 3]), [B, T, hidden]), projW, projB);
}

/** features [B, h, w, D] -> { mean, logvar } [B, h, w, c] each (logvar clamped). */
export function singleAttentionEncoder(features: Nd, sd: StateDict64, c: AdapterRefConfig): { moments: Nd; mean: Nd; logvar: Nd } {
  const [B, h, w, D] = features.shape;
  let x = reshape(features, [B, h * w, D]);
  if (c.depth > 0) {
    if (c.positions === 'sincos' || c.positions === 'learned') x = addBroadcast(x, get(sd, 'pos_embed'));
    const rope = c.positions === 'rope' ? axialRopeTables(c.headDim, h, w, 'interleaved') : null;
    for (let i = 0; i < c.depth; i++) {
      const p = `blocks.${i}.`;
      const pre = c.preNorm ? layerNorm(x, get(sd, `${p}norm1.weight`), get(sd, `${p}norm1.bias`), 1e-6) : x;
      x = add(x, wideAttention(pre, get(sd, `${p}attn.qkv.weight`), opt(sd, `${p}attn.qkv.bias`), get(sd, `${p}attn.proj.weight`), opt(sd, `${p}attn.proj.bias`), c.heads, c.headDim, rope));
      if (c.mlp) {
        const pre2 = c.preNorm ? layerNorm(x, get(sd, `${p}norm2.weight`), get(sd, `${p}norm2.bias`), 1e-6) : x;
        const hid = map(linearTorch(pre2, get(sd, `${p}mlp.fc1.weight`), get(sd, `${p}mlp.fc1.bias`)), gelu);
        x = add(x, linearTorch(hid, get(sd, `${p}mlp.fc2.weight`), get(sd, `${p}mlp.fc2.bias`)));
      }
    }
    if (c.activation === 'gelu') x = map(x, gelu);
  }
  const moments = reshape(linearTorch(x, get(sd, 'out_proj.weight'), opt(sd, 'out_proj.bias')), [B, h, w, 2 * c.latentChannels]);
  const [mean, raw] = splitLast(moments);
  const logvar = map(raw, (v) => Math.min(c.logvarClamp[1], Math.max(c.logvarClamp[0], v)));
  return { moments, mean, logvar };
}

/** KL(N(mean, exp(logvar)) || N(0, I)): 'mean' over elements, or 'sum' per sample / batch. */
export function gaussianKl(mean: Nd, logvar: Nd, reduction: 'mean' | 'sum' = 'mean'): number {
  let s = 0;
  for (let i = 0; i < mean.data.length; i++) s += 0.5 * (mean.data[i] ** 2 + Math.exp(logvar.data[i]) - 1 - logvar.data[i]);
  return reduction === 'mean' ? s / mean.data.length : s / mean.shape[0];
}

// ---------------------------------------------------------------------------------------------------
// FeatureDecoder (LightningDiT-style blocks without adaLN: RMSNorm, MHA + 2-D RoPE, SwiGLU)

export interface FeatureDecoderRefConfig {
  depth: number;
  heads: number;
  positions: boolean;
  rope: boolean;
  outProj: boolean;
  eps: number;
}

/** z [B, h, w, c] -> features [B, h, w, D]. */
export function featureDecoder(z: Nd, sd: StateDict64, c: FeatureDecoderRefConfig): Nd {
  const [B, h, w] = z.shape;
  let x = linearTorch(reshape(z, [B, h * w, z.shape[3]]), get(sd, 'in_proj.weight'), get(sd, 'in_proj.bias')); // [B, T, D]
  const D = x.shape[2];
  if (c.positions) x = addBroadcast(x, get(sd, 'pos_embed'));
  const dh = D / c.heads;
  const rope = c.rope ? { ...axialRopeTables(dh, h, w, 'interleaved'), pairing: 'interleaved' as const, groups: 2 } : null;
  for (let i = 0; i < c.depth; i++) {
    const p = `blocks.${i}.`;
    const a = mha(rmsNorm(x, get(sd, `${p}norm1.weight`), c.eps), {
      qkvW: get(sd, `${p}attn.qkv.weight`), qkvB: opt(sd, `${p}attn.qkv.bias`), projW: get(sd, `${p}attn.proj.weight`), projB: opt(sd, `${p}attn.proj.bias`),
    }, { heads: c.heads, rope });
    x = add(x, a);
    const m = swigluFFN(rmsNorm(x, get(sd, `${p}norm2.weight`), c.eps), get(sd, `${p}mlp.w12.weight`), opt(sd, `${p}mlp.w12.bias`), get(sd, `${p}mlp.w3.weight`), opt(sd, `${p}mlp.w3.bias`));
    x = add(x, m);
  }
  x = rmsNorm(x, get(sd, 'norm.weight'), c.eps);
  if (c.outProj) x = linearTorch(x, get(sd, 'out_proj.weight'), opt(sd, 'out_proj.bias'));
  return reshape(x, [B, h, w, x.shape[2]]);
}

// ---------------------------------------------------------------------------------------------------
// PixelDecoder (RAE GeneralDecoder: ViT-MAE layers, keys as RAE's checkpoints)

export interface PixelDecoderRefConfig {
  depth: number;
  heads: number;
  patchSize: number;
  eps: number;
}

/** features [B, h, w, D] (+ additive noise already applied) -> image NHWC [B, h*p, w*p, 3]. */
export function pixelDecoder(features: Nd, sd: StateDict64, c: PixelDecoderRefConfig): Nd {
  const [B, h, w, D] = features.shape;
  const T = h * w;
  const emb = linearTorch(reshape(features, [B, T, D]), get(sd, 'decoder_embed.weight'), get(sd, 'decoder_embed.bias')); // [B, T, W]
  const W = emb.shape[2];
  const cls = get(sd, 'trainable_cls_token'); // [1, 1, W]
  let x = nd([B, T + 1, W]);
  for (let b = 0; b < B; b++) {
    x.data.set(cls.data, b * (T + 1) * W);
    x.data.set(emb.data.subarray(b * T * W, (b + 1) * T * W), (b * (T + 1) + 1) * W);
  }
  x = addBroadcast(x, get(sd, 'decoder_pos_embed'));
  for (let i = 0; i < c.depth; i++) {
    const p = `decoder_layers.${i}.`;
    const a = mha(layerNorm(x, get(sd, `${p}layernorm_before.weight`), get(sd, `${p}layernorm_before.bias`), c.eps), {
      qW: get(sd, `${p}attention.attention.query.weight`), qB: get(sd, `${p}attention.attention.query.bias`),
      kW: get(sd, `${p}attention.attention.key.weight`), kB: get(sd, `${p}attention.attention.key.bias`),
      vW: get(sd, `${p}attention.attention.value.weight`), vB: get(sd, `${p}attention.attention.value.bias`),
      projW: get(sd, `${p}attention.output.dense.weight`), projB: get(sd, `${p}attention.output.dense.bias`),
    }, { heads: c.heads });
    x = add(x, a);
    const hid = map(linearTorch(layerNorm(x, get(sd, `${p}layernorm_after.weight`), get(sd, `${p}layernorm_after.bias`), c.eps), get(sd, `${p}intermediate.dense.weight`), get(sd, `${p}intermediate.dense.bias`)), gelu);
    x = add(x, linearTorch(hid, get(sd, `${p}output.dense.weight`), get(sd, `${p}output.dense.bias`)));
  }
  x = layerNorm(x, get(sd, 'decoder_norm.weight'), get(sd, 'decoder_norm.bias'), c.eps);
  const pred = linearTorch(x, get(sd, 'decoder_pred.weight'), get(sd, 'decoder_pred.bias')); // [B, T+1, p*p*3]
  const P = pred.shape[2];
  const tokens = nd([B, T, P]);
  for (let b = 0; b < B; b++) tokens.data.set(pred.data.subarray((b * (T + 1) + 1) * P, (b + 1) * (T + 1) * P), b * T * P);
  if (h !== w) throw new Error('ref64-fae.pixelDecoder: square grids only');
  return unpatchify(tokens, c.patchSize, 3);
}

// ---------------------------------------------------------------------------------------------------
// PatchDiscriminator (taming NLayerDiscriminator; batch norm with the batch's biased statistics)

/** images NHWC [B, H, W, C] -> logits [B, h', w', 1]; keys main.<i>.{weight,bias}. */
export function patchDiscriminator(x: Nd, sd: StateDict64, c: { nLayers: number; norm: 'batch' | 'none' }): Nd {
  const conv = (h: Nd, i: number, stride: number) => conv2d(h, get(sd, `main.${i}.weight`), opt(sd, `main.${i}.bias`), { stride: [stride, stride], pad: [1, 1, 1, 1] });
  const lrelu = (h: Nd) => map(h, (v) => (v > 0 ? v : 0.2 * v));
  const bn = (h: Nd, i: number) => {
    if (c.norm === 'none') return h;
    const m = channelMoments(h);
    return batchNorm(h, m.mean, m.biased, get(sd, `main.${i}.weight`).data, get(sd, `main.${i}.bias`).data, 1e-5);
  };
  let h = lrelu(conv(x, 0, 2));
  let i = 2;
  for (let n = 1; n < c.nLayers; n++, i += 3) h = lrelu(bn(conv(h, i, 2), i + 1));
  h = lrelu(bn(conv(h, i, 1), i + 1));
  return conv(h, i + 3, 1);
}

// ---------------------------------------------------------------------------------------------------
// Losses

/** Hinge discriminator loss 0.5 (mean relu(1 - real) + mean relu(1 + fake)). */
export function hingeDiscriminatorLoss(real: Nd, fake: Nd): number {
  const m = (a: Nd, f: (v: number) => number) => a.data.reduce((s, v) => s + f(v), 0) / a.data.length;
  return 0.5 * (m(real, (v) => Math.max(0, 1 - v)) + m(fake, (v) => Math.max(0, 1 + v)));
}

/** mean |a - b| or mean (a - b)^2. */
export function reconstruction(a: Nd, b: Nd, kind: 'l1' | 'l2'): number {
  let s = 0;
  for (let i = 0; i < a.data.length; i++) s += kind === 'l1' ? Math.abs(a.data[i] - b.data[i]) : (a.data[i] - b.data[i]) ** 2;
  return s / a.data.length;
}


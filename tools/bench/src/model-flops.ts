// FLOPs of the model workloads, counted from their shapes (model-shapes.ts), by this rule:
// 2 * M * N * K for every matrix product of the forward pass (linear layers, the patch embedding as a
// matmul, attention's QK^T and AV), nothing for elementwise ops, norms, softmax, RoPE, embeddings
// lookups or the optimizer. A training step counts forward + backward as 3x the forward (the backward
// of a product is two products of the same size). These are the FLOPs the GFLOP/s columns divide by.
import type { Shapes } from './model-shapes.js';

/** One linear layer on n tokens. */
const lin = (n: number, inF: number, outF: number) => 2 * n * inF * outF;
/** Attention products QK^T and AV over `heads * headDim` channels for b sequences of tq queries and tk keys. */
const attn = (b: number, tq: number, tk: number, width: number) => 2 * 2 * b * tq * tk * width;

interface FeatureDecoderShapes {
  latent: number;
  grid: number;
  width: number;
  depth: number;
  heads: number;
  swiglu_hidden: number;
}

/** FAE feature decoder forward on b latents: in_proj, depth x (qkv, attention, proj, SwiGLU w12, w3). */
function featureDecoderFlops(b: number, f: FeatureDecoderShapes): number {
  const t = f.grid * f.grid;
  const n = b * t;
  const block = lin(n, f.width, 3 * f.width) + attn(b, t, t, f.width) + lin(n, f.width, f.width) + lin(n, f.width, 2 * f.swiglu_hidden) + lin(n, f.swiglu_hidden, f.width);
  return lin(n, f.latent, f.width) + f.depth * block;
}

/** Forward FLOPs (x3 for the training step) of one call of the workload. */
export function modelFlops(s: Shapes): number {
  const v = s as Record<string, number> & Shapes;
  switch (s.kind) {
    case 'dinov2_encode': {
      const t = v.grid * v.grid + 1;
      const n = v.batch * t;
      const block = lin(n, v.width, 3 * v.width) + attn(v.batch, t, t, v.width) + lin(n, v.width, v.width) + lin(n, v.width, v.mlp) + lin(n, v.mlp, v.width);
      const patchEmbed = lin(v.batch * v.grid * v.grid, 3 * v.patch * v.patch, v.width);
      const posInterp = lin(v.grid * v.grid, v.pos_grid * v.pos_grid, v.width); // the bicubic resize as a [g*g, G*G] matrix
      return patchEmbed + posInterp + v.depth * block;
    }
    case 'fae_decode': {
      const f = s.feature_decoder as FeatureDecoderShapes;
      const p = s.pixel_decoder as Record<string, number>;
      const t = f.grid * f.grid;
      const n = v.batch * (t + 1);
      const layer = 4 * lin(n, p.width, p.width) + attn(v.batch, t + 1, t + 1, p.width) + lin(n, p.width, p.mlp) + lin(n, p.mlp, p.width);
      const pixel = lin(v.batch * t, p.input, p.width) + p.depth * layer + lin(v.batch * t, p.width, p.patch * p.patch * 3);
      return featureDecoderFlops(v.batch, f) + pixel;
    }
    case 'dit_step': {
      const b = v.forward_batch;
      const t = (v.size / v.patch) ** 2;
      const n = b * t;
      const w = v.width;
      const block = lin(b, w, 6 * w) + lin(n, w, 3 * w) + attn(b, t, t, w) + lin(n, w, w) + lin(n, w, 2 * v.swiglu_hidden) + lin(n, v.swiglu_hidden, w);
      const embed = lin(n, v.channels * v.patch * v.patch, w) + lin(b, 256, w) + lin(b, w, w);
      const final = lin(b, w, 2 * w) + lin(n, w, v.patch * v.patch * v.channels);
      return embed + v.depth * block + final;
    }
    case 'tarflow_sample': {
      // Token by token with KV caches: step i (0 .. T-2) feeds one token per sample, which attends
      // to the i + 1 cached positions; proj_in and proj_out on that token.
      const b = v.batch;
      const t = (v.size / v.patch) ** 2;
      const d = v.channels * v.patch * v.patch;
      const w = v.width;
      const hidden = w * v.expansion;
      const perToken = lin(b, w, 3 * w) + lin(b, w, w) + lin(b, w, hidden) + lin(b, hidden, w);
      let total = 0;
      for (const layers of s.layers as number[]) {
        for (let i = 0; i < t - 1; i++) total += lin(b, d, w) + layers * (perToken + attn(b, 1, i + 1, w)) + lin(b, w, 2 * d);
      }
      return total;
    }
    case 'fae_train': {
      const a = s.adapter as { heads: number; head_dim: number };
      const t = v.grid * v.grid;
      const n = v.batch * t;
      const hidden = a.heads * a.head_dim;
      const adapter = lin(n, v.features, 3 * hidden) + attn(v.batch, t, t, hidden) + lin(n, hidden, v.features) + lin(n, v.features, 2 * v.latent);
      return 3 * (adapter + featureDecoderFlops(v.batch, s.feature_decoder as FeatureDecoderShapes));
    }
  }
}

/** Items one call produces, for the rate column: images (encode, decode, sampling pass, training batch) or samples advanced one step. */
export function modelRate(s: Shapes): { items: number; unit: string } {
  if (s.kind === 'dit_step') return { items: s.batch, unit: 'sample-steps/s' };
  return { items: s.batch, unit: 'images/s' };
}

/** FLOPs of a pre-LN ViT block forward (matmuls only) for B x T tokens of width D. */
export function vitBlockFlops(b: number, t: number, d: number, mlpRatio = 4): number {
  const n = b * t;
  const proj = 2 * n * d * (3 * d + d + 2 * mlpRatio * d);
  const attn = 2 * 2 * b * t * t * d;
  return proj + attn;
}

// Named adapter configurations. `fae-dinov2-g` is the paper's encoder (App. D: input 16x16x1536,
// output 16x16x64, hidden 6144 = 24 heads x 256, one layer, 38.17M parameters).
//
// What the 38.17M preset is made of (counted by adapterParameterCount):
//   attn.qkv   1536 -> 3 x 6144 (+bias)  28,329,984
//   attn.proj  6144 -> 1536     (+bias)   9,438,720
//   out_proj   1536 -> 2 x 32   (+bias)      98,368
//   pos_embed  16 x 16 x 1536 (fixed)       393,216
//   total                                38,260,288  (+0.24% vs the paper's 38.17M)
// The layer of Fig. 7 alone has 37.87M (-0.79%: outside 0.5%), so the paper's model holds ~0.30M
// more than the figure shows. Our reading: a 2-D sin-cos `pos_embed` [1, 256, 1536] kept as a frozen
// nn.Parameter, as DiT/LightningDiT do (PyTorch's count includes it). The same table explains the
// feature decoder's count to 5 digits (170.43M, see @fae/decoders), which is why we prefer it to
// other 0.3M-sized additions. For the encoder it overshoots by 0.09M (+0.24%); that remainder is
// unexplained (a 197 x 1536 table, 14 x 14 + 1 positions, would match to 4 digits, but nothing in
// the paper points at a 14 x 14 grid, so we do not fit it).
import { adapterParameterCount, resolveAdapterConfig, type SingleAttentionEncoderConfig } from './config.js';

export interface AdapterPreset {
  config: SingleAttentionEncoderConfig;
  parameters: number;
  /** What the preset is, and the paper's count where it reports one. */
  description: string;
  paperParameters?: number;
}

function preset(config: Partial<SingleAttentionEncoderConfig>, description: string, paperParameters?: number): AdapterPreset {
  const c = resolveAdapterConfig(config);
  return { config: c, parameters: adapterParameterCount(c), description, paperParameters };
}

const DINOV2_G = { inputDim: 1536, gridSize: 16 } as const;

export const ADAPTER_PRESETS: Record<string, AdapterPreset> = {
  'fae-dinov2-g': preset({ ...DINOV2_G, latentChannels: 32, depth: 1, heads: 24, headDim: 256 }, 'paper: DINOv2-g/14 features 16x16x1536 -> 16x16x32, one attention layer (24 x 256)', 38.17e6),
  'fae-dinov2-g-c64': preset({ ...DINOV2_G, latentChannels: 64, depth: 1, heads: 24, headDim: 256 }, 'paper Table 7: 64-channel latent'),
  'fae-dinov2-g-linear': preset({ ...DINOV2_G, latentChannels: 32, depth: 0 }, 'paper Table 5 ablation: linear projection only'),
  'fae-dinov2-g-transformer6': preset({ ...DINOV2_G, latentChannels: 32, depth: 6, heads: 24, headDim: 64, mlpRatio: 4, preNorm: true }, 'paper Table 5 ablation: 6-layer pre-LN transformer (24 x 64 heads, MLP 4x)'),
  'fae-siglip2-g-384': preset({ inputDim: 1536, gridSize: 24, latentChannels: 64, depth: 1, heads: 24, headDim: 256 }, 'paper App. D MMDiT-384: SigLIP2 g-opt/16 at 384, 24x24x1536 -> 24x24x64'),
  'fae-dinov2-b': preset({ inputDim: 768, gridSize: 16, latentChannels: 32, depth: 1, heads: 12, headDim: 256 }, 'scaled: DINOv2-B/14 (768) with the paper\'s 4x-wide attention'),
  'fae-dinov2-s': preset({ inputDim: 384, gridSize: 16, latentChannels: 32, depth: 1, heads: 6, headDim: 256 }, 'scaled: DINOv2-S/14 (384) with the paper\'s 4x-wide attention'),
};

/** name -> { config, parameters }, for `npm run presets`. */
export const PRESETS: Record<string, { config: SingleAttentionEncoderConfig; parameters: number }> = ADAPTER_PRESETS;

/** A copy of a preset's config, or undefined when no preset has that name. */
export function adapterPreset(name: string): SingleAttentionEncoderConfig | undefined {
  const p = ADAPTER_PRESETS[name];
  return p && { ...p.config, logvarClamp: [...p.config.logvarClamp] as [number, number] };
}

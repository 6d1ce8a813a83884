// Named decoder configurations. The paper's (App. D): feature decoder 170.43M, pixel decoder 305.36M.
//
// Feature decoder `fae-dinov2-g` (featureDecoderParameterCount):
//   in_proj 32 -> 1536                                                        50,688
//   pos_embed 16 x 16 x 1536 (fixed sin-cos, a frozen parameter as in LightningDiT)   393,216
//   6 blocks x (RMSNorm, qkv 1536 -> 4608, proj, RMSNorm, SwiGLU w12 1536 -> 8192, w3 4096 -> 1536)
//            = 6 x 28,330,496                                            169,982,976
//   final RMSNorm                                                              1,536
//   total                                                                170,428,416  (paper 170.43M: -0.001%)
// No out_proj: a 1536 x 1536 one would give 172.79M (+1.4%).
//
// Pixel decoder `fae-dinov2-g-vit-l` (RAE's ViT-L decoder on 1536-wide features, patch 16):
//   decoder_embed 1536 -> 1024 1,573,888; decoder_pos_embed 257 x 1024 (frozen) 263,168; CLS 1,024;
//   24 ViT-L layers x 12,596,224 = 302,309,376; decoder_norm 2,048; decoder_pred 1024 -> 768 787,200
//   total 304,936,704 (paper 305.36M: -0.14%). The remaining 0.42M is not explained by the paper.
import type { PixelObjectivePresetName } from './pixel-objective-presets.js';
import {
  featureDecoderParameterCount, pixelDecoderParameterCount, resolveFeatureDecoderConfig, resolvePixelDecoderConfig,
  type FeatureDecoderConfig, type PixelDecoderConfig,
} from './config.js';

export interface DecoderPreset<C> {
  config: C;
  parameters: number;
  description: string;
  /** The paper's reported count, where there is one. */
  paperParameters?: number;
  /** Pixel decoders: the training objective preset that goes with it (PIXEL_OBJECTIVE_PRESETS). */
  objective?: PixelObjectivePresetName;
}

function feature(config: Partial<FeatureDecoderConfig>, description: string, paperParameters?: number): DecoderPreset<FeatureDecoderConfig> {
  const c = resolveFeatureDecoderConfig(config);
  return { config: c, parameters: featureDecoderParameterCount(c), description, paperParameters };
}

function pixel(config: Partial<PixelDecoderConfig>, description: string, paperParameters?: number): DecoderPreset<PixelDecoderConfig> {
  const c = resolvePixelDecoderConfig(config);
  // Every ViT pixel decoder here is RAE's structure; its default objective is RAE's (= 'fae-paper').
  return { config: c, parameters: pixelDecoderParameterCount(c), description, paperParameters, objective: 'fae-paper' };
}

const VIT_L = { width: 1024, depth: 24, heads: 16, mlpDim: 4096 } as const;
const VIT_B = { width: 768, depth: 12, heads: 12, mlpDim: 3072 } as const;
const VIT_XL = { width: 1152, depth: 28, heads: 16, mlpDim: 4096 } as const;

export const FEATURE_DECODER_PRESETS: Record<string, DecoderPreset<FeatureDecoderConfig>> = {
  'fae-dinov2-g': feature({ latentChannels: 32, outputDim: 1536, depth: 6, heads: 24, gridSize: 16 }, 'paper: 16x16x32 -> 16x16x1536, 6 blocks (RMSNorm, RoPE, SwiGLU), 24 x 64 heads', 170.43e6),
  'fae-dinov2-g-c64': feature({ latentChannels: 64, outputDim: 1536, depth: 6, heads: 24, gridSize: 16 }, 'paper Table 7: 64-channel latent'),
  'fae-siglip2-g-384': feature({ latentChannels: 64, outputDim: 1536, depth: 6, heads: 24, gridSize: 24 }, 'paper App. D MMDiT-384: 24x24x64 -> 24x24x1536'),
  'fae-dinov2-b': feature({ latentChannels: 32, outputDim: 768, depth: 6, heads: 12, gridSize: 16 }, 'scaled: DINOv2-B/14 features (768)'),
  'fae-dinov2-s': feature({ latentChannels: 32, outputDim: 384, depth: 6, heads: 6, gridSize: 16 }, 'scaled: DINOv2-S/14 features (384)'),
};

export const PIXEL_DECODER_PRESETS: Record<string, DecoderPreset<PixelDecoderConfig>> = {
  'fae-dinov2-g-vit-l': pixel({ inputDim: 1536, ...VIT_L, gridSize: 16, imageSize: 256 }, 'paper: ViT-L decoder, 16x16x1536 -> 256x256x3 (RAE GeneralDecoder structure), noise sigma 0.4', 305.36e6),
  'fae-siglip2-g-384-vit-l': pixel({ inputDim: 1536, ...VIT_L, gridSize: 24, imageSize: 384, noise: { mode: 'rms', sigma: 0.4 } }, 'ViT-L decoder for 24x24 SigLIP2 features -> 384x384'),
  'rae-dinov2-b-vit-b': pixel({ inputDim: 768, ...VIT_B, gridSize: 16, imageSize: 256, noise: { mode: 'uniform', sigma: 0.8 } }, "RAE's ViT-B decoder for DINOv2-B (noise_tau 0.8)"),
  'rae-dinov2-b-vit-l': pixel({ inputDim: 768, ...VIT_L, gridSize: 16, imageSize: 256, noise: { mode: 'uniform', sigma: 0.8 } }, "RAE's ViT-L decoder for DINOv2-B"),
  'rae-dinov2-b-vit-xl': pixel({ inputDim: 768, ...VIT_XL, gridSize: 16, imageSize: 256, noise: { mode: 'uniform', sigma: 0.8 } }, "RAE's ViT-XL decoder for DINOv2-B (the released one)"),
};

/** name -> { config, parameters } for `npm run presets`, one group per model. */
export const PRESETS = {
  FeatureDecoder: FEATURE_DECODER_PRESETS,
  PixelDecoder: PIXEL_DECODER_PRESETS,
};

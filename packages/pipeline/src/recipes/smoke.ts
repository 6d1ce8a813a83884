// The smoke recipe: every stage of the pipeline (encoder pretraining, features, Ib, Ia, II, latents,
// LightningDiT, TARFlow) with a handful of steps and tiny widths, on 32x32 images: for tests and for
// checking a dataset end to end in a minute or two on a CPU. Its samples are not meant to look like anything.
import { HALF } from '../preprocess.js';
import type { PipelineRecipe } from './recipe.js';

export const SMOKE_RECIPE: PipelineRecipe = {
  name: 'smoke',
  description: 'every stage, a handful of steps, tiny widths, 32x32 images (tests)',
  seed: 0,
  image: { size: 32, crop: 'resize', flip: true },
  encoder: {
    kind: 'mim',
    config: {
      model_type: 'dinov2', hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 2, mlp_ratio: 2, hidden_act: 'gelu',
      layer_norm_eps: 1e-6, image_size: 32, patch_size: 8, num_channels: 3, qkv_bias: true, use_swiglu_ffn: false,
      use_mask_token: true, layerscale_value: 1.0,
    },
    train: { steps: 4, batch: 8, lr: 1e-3, weightDecay: 0.05, clipNorm: 1, maskRatio: 0.5 },
    mean: HALF, std: HALF,
  },
  latentChannels: 4,
  adapter: { depth: 1, heads: 2, headDim: 16, mlpRatio: 0, preNorm: false, activation: 'gelu', positions: 'sincos' },
  featureDecoder: { width: 32, depth: 1, heads: 2, mlpRatio: 2, rope: true },
  pixelDecoder: { width: 32, depth: 1, heads: 2, mlpDim: 64, clsToken: false, layerNormEps: 1e-6, outputMean: [0.5, 0.5, 0.5], outputStd: [0.5, 0.5, 0.5], noise: { mode: 'fixed', sigma: 0.1 } },
  // The paper's objective in miniature: L1 + adaptive-weighted GAN (D from step 2 of 4 in Ia, 1 of 2 in
  // II) with a small PatchGAN; LPIPS when trainPipeline is given one (tests pass a procedural one), else
  // left out and logged: the smoke run needs no download.
  pixelObjective: { preset: 'fae-paper', discriminator: { ndf: 8, nLayers: 2 }, perceptual: 'when-given' },
  stages: {
    ib: { steps: 4, batch: 8, lr: 1e-3, warmup: 1, clipNorm: 1, beta: 1e-6 },
    ia: { steps: 4, batch: 8, lr: 1e-3, warmup: 1, clipNorm: 1 },
    ii: { steps: 2, batch: 8, lr: 3e-4, warmup: 1, clipNorm: 1 },
  },
  generators: {
    dit: {
      config: { patchSize: 1, hiddenSize: 32, depth: 1, numHeads: 2, mlpRatio: 2, classDropoutProb: 0.1, learnSigma: false, useQknorm: true, useSwiglu: true, useRope: true, useRmsnorm: true },
      train: { steps: 4, batch: 8, lr: 5e-4, clipNorm: 1 },
      sampling: { sampler: 'euler', steps: 4, guidance: 1.5 },
    },
    tarflow: {
      config: { patchSize: 1, channels: 32, headDim: 16, numBlocks: 2, layersPerBlock: 1 },
      train: { steps: 4, batch: 8, lr: 1e-3, warmup: 1, clipNorm: 1, noiseStd: 0.05, labelDropout: 0.1 },
      sampling: { guidance: 1, noiseStd: 0.05 },
    },
  },
  cache: { shardSize: 16, dtype: 'F32' },
};

// The digits recipe: what made the checkpoints shipped with the `fae` example (examples/cli), on the
// first 2,000 training digits of the mnist package. Image 28x28 -> encoder patch 4 -> 7x7 tokens of
// width 64 -> latents 7x7x8. Hyperparameters exactly as `fae train all` (STAGE_DEFAULTS there).
import { HALF } from '../preprocess.js';
import type { PipelineRecipe } from './recipe.js';

export const DIGITS_RECIPE: PipelineRecipe = {
  name: 'digits',
  description: 'MNIST digits 28x28: own DINOv2-style encoder (SimMIM), 7x7x8 latents, LightningDiT + TARFlow (the shipped examples/cli checkpoints)',
  seed: 0,
  image: { size: 28, crop: 'resize', flip: false },
  limit: 2000,
  encoder: {
    kind: 'mim',
    config: {
      model_type: 'dinov2', hidden_size: 64, num_hidden_layers: 3, num_attention_heads: 4, mlp_ratio: 4, hidden_act: 'gelu',
      layer_norm_eps: 1e-6, image_size: 28, patch_size: 4, num_channels: 3, qkv_bias: true, use_swiglu_ffn: false,
      use_mask_token: true, layerscale_value: 1.0,
    },
    train: { steps: 150, batch: 16, lr: 1e-3, weightDecay: 0.05, clipNorm: 1, maskRatio: 0.5 },
    mean: HALF, std: HALF,
  },
  latentChannels: 8,
  adapter: { depth: 1, heads: 4, headDim: 32, mlpRatio: 0, preNorm: false, activation: 'gelu', positions: 'sincos' },
  featureDecoder: { width: 64, depth: 2, heads: 4, mlpRatio: 4, rope: true },
  // Stage Ia noise sigma 0.1: this encoder's LayerNorm-ed features vary only ~0.18 per channel (the
  // paper's 0.4 drowned them and the decoder learnt a blur).
  pixelDecoder: { width: 64, depth: 2, heads: 4, mlpDim: 256, clsToken: false, layerNormEps: 1e-6, outputMean: [0.5, 0.5, 0.5], outputStd: [0.5, 0.5, 0.5], noise: { mode: 'fixed', sigma: 0.1 } },
  // L2 only, as `fae train pixel` trains the shipped decoder (decoders' 'mnist' preset: no LPIPS on 28 px
  // grey digits, no GAN in a minutes-long CPU budget)
  pixelObjective: { preset: 'mnist' },
  stages: {
    ib: { steps: 2000, batch: 32, lr: 1e-3, warmup: 20, clipNorm: 1, beta: 1e-6 },
    ia: { steps: 1500, batch: 32, lr: 1e-3, warmup: 20, clipNorm: 1 },
    ii: { steps: 300, batch: 32, lr: 3e-4, warmup: 5, clipNorm: 1 },
  },
  generators: {
    dit: {
      config: { patchSize: 1, hiddenSize: 96, depth: 3, numHeads: 3, mlpRatio: 4, classDropoutProb: 0.1, learnSigma: false, useQknorm: true, useSwiglu: true, useRope: true, useRmsnorm: true },
      train: { steps: 7200, batch: 32, lr: 5e-4, clipNorm: 1 },
      sampling: { sampler: 'heun', steps: 12, guidance: 2 },
    },
    tarflow: {
      config: { patchSize: 1, channels: 64, headDim: 32, numBlocks: 3, layersPerBlock: [1, 1, 4], condTopOnly: true },
      train: { steps: 3600, batch: 32, lr: 1e-3, warmup: 10, clipNorm: 1, noiseStd: 0.3, labelDropout: 0.1 },
      sampling: { guidance: 2, noiseStd: 0.3 },
    },
  },
  cache: { shardSize: 2048, dtype: 'F32' },
};

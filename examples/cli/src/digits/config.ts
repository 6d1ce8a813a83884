// The embedded default: every component's configuration, sized so that the whole pipeline trains in
// minutes on a CPU. Image 28x28 -> encoder patch 4 -> 7x7 tokens of width 64 -> FAE latent 7x7x8.
import type { SingleAttentionEncoderConfig } from '@fae/adapter';
import type { FeatureDecoderConfig, PixelDecoderConfig } from '@fae/decoders';
import type { LightningDiTConfig } from '@fae/diffusion';
import type { TarFlowConfig } from '@fae/flow';
import { DIGITS_RECIPE, type MimEncoderSpec } from '@fae/pipeline';
import { DIGIT_ENCODER_CONFIG } from '../models/digit-encoder.js';

export const GRID = DIGIT_ENCODER_CONFIG.image_size / DIGIT_ENCODER_CONFIG.patch_size; // 7
export const FEATURE_DIM = DIGIT_ENCODER_CONFIG.hidden_size; // 64
export const LATENT_CHANNELS = 8;
/** Training digits the FAE stages and the generators use (of the 9,001 in the training split). */
export const TRAIN_DIGITS = 2000;

/** The adapter: the paper's single attention layer (wide heads), no MLP, no pre-norm. */
export const ADAPTER_CONFIG: Partial<SingleAttentionEncoderConfig> = {
  inputDim: FEATURE_DIM, latentChannels: LATENT_CHANNELS, depth: 1, heads: 4, headDim: 32, mlpRatio: 0,
  preNorm: false, activation: 'gelu', positions: 'sincos', gridSize: GRID,
};

/** The feature decoder: RMSNorm + RoPE + SwiGLU transformer, c -> D. */
export const FEATURE_DECODER_CONFIG: Partial<FeatureDecoderConfig> = {
  latentChannels: LATENT_CHANNELS, outputDim: FEATURE_DIM, width: 64, depth: 2, heads: 4, mlpRatio: 4, rope: true, gridSize: GRID,
};

/** The pixel decoder: a small ViT, 7x7 feature tokens -> 28x28 RGB (patch 4). Images in [0, 1]. */
export const PIXEL_DECODER_CONFIG: Partial<PixelDecoderConfig> = {
  inputDim: FEATURE_DIM, width: 64, depth: 2, heads: 4, mlpDim: 256, gridSize: GRID, imageSize: 28, clsToken: false,
  // Noise on the input features in stage Ia. The paper's sigma 0.4 suits DINOv2's features; this
  // encoder's are LayerNorm-ed (overall std 1.0) but vary only ~0.18 per channel around per-channel
  // means (held-out digits): sigma 0.4 drowned the signal and the decoder learnt a blur (14.6 dB).
  layerNormEps: 1e-6, outputMean: [0.5, 0.5, 0.5], outputStd: [0.5, 0.5, 0.5], noise: { mode: 'fixed', sigma: 0.1 },
};

/** LightningDiT on the 7x7x8 latents (patch 1: 49 tokens), all LightningDiT options on. */
export const DIT_CONFIG: Partial<LightningDiTConfig> = {
  inputSize: GRID, patchSize: 1, inChannels: LATENT_CHANNELS, hiddenSize: 96, depth: 3, numHeads: 3, mlpRatio: 4,
  classDropoutProb: 0.1, numClasses: 10, learnSigma: false, useQknorm: true, useSwiglu: true, useRope: true, useRmsnorm: true,
};

/** The same DiT on raw pixels 28x28x1 with patch 4 (also 49 tokens): the convergence baseline. */
export const DIT_PIXELS_CONFIG: Partial<LightningDiTConfig> = { ...DIT_CONFIG, inputSize: 28, patchSize: 4, inChannels: 1 };

/**
 * TARFlow on the 7x7x8 latents (patch 1), class-conditional, with STARFlow's deep-shallow layout: two
 * shallow unconditional blocks of one causal layer, then a deep block of four layers, the only one that
 * sees the class (condTopOnly; sampling runs it first, and guidance acts there). Blocks alternate
 * directions. Trained on latents + N(0, 0.3^2) noise (STARFlow's noise_std); sampling ends with the
 * Tweedie denoising step (see DEFAULT_SAMPLING).
 */
export const TARFLOW_CONFIG: TarFlowConfig = {
  inChannels: LATENT_CHANNELS, imgSize: GRID, patchSize: 1, channels: 64, headDim: 32, numBlocks: 3, layersPerBlock: [1, 1, 4], condTopOnly: true, numClasses: 10,
};

/** Steps, batch size and peak learning rate of one training stage. */
export interface StageHyperparameters {
  steps: number;
  batch: number;
  lr: number;
}

/**
 * Default training per stage: what made the shipped checkpoints (`fae train all`). `--batch n` keeps
 * the number of samples seen (steps x batch) and scales the learning rate by sqrt(n / batch); see
 * `stageHyperparameters` in pipeline/context.ts.
 */
const shp = (s: StageHyperparameters): StageHyperparameters => ({ steps: s.steps, batch: s.batch, lr: s.lr });
const R = DIGITS_RECIPE;
export const STAGE_DEFAULTS = {
  classifier: { steps: 2000, batch: 64, lr: 2e-3 },
  // the FAE stages and the generators: @fae/pipeline's digits recipe (one source for both)
  encoder: shp((R.encoder as MimEncoderSpec).train),
  stageIb: shp(R.stages.ib),
  stageIa: shp(R.stages.ia),
  stageII: shp(R.stages.ii),
  dit: shp(R.generators.dit!.train),
  ditPixels: { steps: 2400, batch: 32, lr: 5e-4 },
  tarflow: shp(R.generators.tarflow!.train),
} satisfies Record<string, StageHyperparameters>;

export type TrainedStage = keyof typeof STAGE_DEFAULTS;

/** Sampling defaults (stored in the checkpoints' sampling.json by training; these are the fallback). */
export interface SamplingConfig {
  ditSteps: number;
  ditSampler: 'euler' | 'heun' | 'euler-maruyama';
  ditCfg: number;
  flowGuidance: number;
  /** Std of the noise augmentation the TARFlow was trained with (0 = none). */
  flowNoiseStd: number;
}

export const DEFAULT_SAMPLING: SamplingConfig = { ditSteps: 12, ditSampler: 'heun', ditCfg: 2, flowGuidance: 2.0, flowNoiseStd: 0.3 };

/** Component folders inside a models folder. */
export const COMPONENTS = {
  classifier: 'classifier',
  encoder: 'encoder',
  adapter: 'adapter',
  featureDecoder: 'feature-decoder',
  pixelDecoder: 'pixel-decoder',
  dit: 'dit',
  tarflow: 'tarflow',
  ditPixels: 'dit-pixels',
} as const;
export type ComponentName = keyof typeof COMPONENTS;

// A training recipe is data: every model's architecture (widths the encoder decides are filled in at
// training time: feature width D, token grid, latent channels), every stage's steps / batch / lr, the
// image preprocessing and the sampling defaults. trainPipeline() runs any recipe on any dataset.
import { ConfigError } from '@fae/core';
import type { SingleAttentionEncoderConfig } from '@fae/adapter';
import { PIXEL_OBJECTIVE_PRESETS, type FeatureDecoderConfig, type PatchDiscriminatorConfig, type PixelDecoderConfig, type PixelObjectivePresetName } from '@fae/decoders';
import type { LightningDiTConfig } from '@fae/diffusion';
import type { TarFlowConfig } from '@fae/flow';
import type { GeneratorDefaults } from '../generator.js';

/** Steps, batch size and peak learning rate of one stage (AdamW, cosine schedule with warm-up unless said otherwise). */
export interface StageSpec {
  steps: number;
  batch: number;
  lr: number;
  warmup?: number;
  weightDecay?: number;
  clipNorm?: number;
}

/** A frozen encoder loaded from a hub id, preset name or folder (the paper: DINOv2-g, SigLIP2). */
export interface PretrainedEncoderSpec {
  kind: 'pretrained';
  source: string;
  /** Side of the encoder's input (the whole image is resized to it). */
  encoderSize: number;
  mean: [number, number, number];
  std: [number, number, number];
}

/**
 * A small DINOv2-architecture encoder the recipe pretrains itself by masked-image modelling (SimMIM:
 * masked patch tokens replaced by mask_token, a linear head regresses their grey pixels, L1), then freezes.
 */
export interface MimEncoderSpec {
  kind: 'mim';
  /** transformers' Dinov2 config.json fields (model_type 'dinov2', image_size = the recipe's image size). */
  config: Record<string, unknown>;
  train: StageSpec & { maskRatio: number };
  mean: [number, number, number];
  std: [number, number, number];
}

export interface GeneratorSpec<C> {
  config: C;
  train: StageSpec & { seed?: number };
  sampling: GeneratorDefaults;
}

/**
 * The pixel decoder's loss in stages Ia and II: a @fae/decoders PIXEL_OBJECTIVE_PRESETS name (loss
 * weights; GAN starts as fractions of each stage's steps), the PatchGAN discriminator's size, and
 * whether a preset's perceptual term (LPIPS-VGG16, trainPipeline's `lpipsWeights` / `perceptual`) is
 * 'required' (the default: the run refuses to start without it) or used 'when-given' (smoke only).
 */
export interface PixelObjectiveSpec {
  preset: PixelObjectivePresetName;
  discriminator?: Partial<PatchDiscriminatorConfig>;
  perceptual?: 'required' | 'when-given';
}

export interface PipelineRecipe {
  name: string;
  description: string;
  seed: number;
  image: { size: number; crop: 'adm' | 'center' | 'resize'; flip: boolean };
  encoder: PretrainedEncoderSpec | MimEncoderSpec;
  latentChannels: number;
  /** inputDim, gridSize and latentChannels are filled in. */
  adapter: Partial<SingleAttentionEncoderConfig>;
  /** latentChannels, outputDim and gridSize are filled in. */
  featureDecoder: Partial<FeatureDecoderConfig>;
  /** inputDim, gridSize and imageSize are filled in. */
  pixelDecoder: Partial<PixelDecoderConfig>;
  /** The pixel decoder's loss (stages Ia and II). */
  pixelObjective: PixelObjectiveSpec;
  stages: {
    /** Adapter + feature decoder: L2 + beta KL. */
    ib: StageSpec & { beta: number };
    /** Pixel decoder on frozen features + noise (the noise is the pixel decoder's config). */
    ia: StageSpec;
    /** Pixel decoder on the FAE's reconstructions x^. */
    ii: StageSpec;
  };
  /** Generators by name (inChannels / inputSize / imgSize / numClasses are filled in). */
  generators: {
    dit?: GeneratorSpec<Partial<LightningDiTConfig>> & { train: { emaDecay?: number } };
    tarflow?: GeneratorSpec<Omit<TarFlowConfig, 'inChannels' | 'imgSize' | 'numClasses'>> & { train: { noiseStd: number; labelDropout: number } };
  };
  /** Feature / latent cache shards. */
  cache: { shardSize: number; dtype: 'F16' | 'F32' };
  /** Use only the first `limit` dataset items (the digits recipe: 2,000 training digits). */
  limit?: number;
}

function checkStage(s: StageSpec | undefined, where: string): void {
  if (!s) throw new ConfigError(where, 'missing');
  for (const k of ['steps', 'batch'] as const) if (!Number.isInteger(s[k]) || s[k] < 1) throw new ConfigError(where, `${k} must be a positive integer, got ${s[k]}`);
  if (!(s.lr > 0)) throw new ConfigError(where, `lr must be positive, got ${s.lr}`);
}

/** Throws a ConfigError naming the field that is wrong. */
export function checkRecipe(r: PipelineRecipe): PipelineRecipe {
  const w = `recipe ${r?.name ?? '?'}`;
  if (!r?.name) throw new ConfigError('recipe', 'name is missing');
  if (!Number.isInteger(r.image?.size) || r.image.size < 1) throw new ConfigError(`${w}.image.size`, `must be a positive integer, got ${r.image?.size}`);
  if (!Number.isInteger(r.latentChannels) || r.latentChannels < 1) throw new ConfigError(`${w}.latentChannels`, `must be a positive integer, got ${r.latentChannels}`);
  if (r.encoder?.kind === 'mim') {
    checkStage(r.encoder.train, `${w}.encoder.train`);
    if (r.encoder.config.image_size !== r.image.size) throw new ConfigError(`${w}.encoder.config.image_size`, `must equal image.size ${r.image.size}, got ${r.encoder.config.image_size}`);
  } else if (r.encoder?.kind !== 'pretrained') throw new ConfigError(`${w}.encoder.kind`, "must be 'pretrained' or 'mim'");
  if (!Object.hasOwn(PIXEL_OBJECTIVE_PRESETS, r.pixelObjective?.preset ?? '')) {
    throw new ConfigError(`${w}.pixelObjective.preset`, `must be one of ${Object.keys(PIXEL_OBJECTIVE_PRESETS).join(', ')}, got ${r.pixelObjective?.preset}`);
  }
  if (r.pixelObjective.perceptual !== undefined && !['required', 'when-given'].includes(r.pixelObjective.perceptual)) {
    throw new ConfigError(`${w}.pixelObjective.perceptual`, `must be 'required' or 'when-given', got ${r.pixelObjective.perceptual}`);
  }
  checkStage(r.stages?.ib, `${w}.stages.ib`);
  checkStage(r.stages?.ia, `${w}.stages.ia`);
  checkStage(r.stages?.ii, `${w}.stages.ii`);
  if (r.generators?.dit) checkStage(r.generators.dit.train, `${w}.generators.dit.train`);
  if (r.generators?.tarflow) checkStage(r.generators.tarflow.train, `${w}.generators.tarflow.train`);
  return r;
}

/**
 * The recipe with every stage's steps scaled by `scale` (at least 1 step), for quick trials; and with
 * `batch`, the same samples seen in larger steps: steps x (batch / b), lr x sqrt(b / batch).
 */
export function scaleRecipe(r: PipelineRecipe, o: { steps?: number; batch?: number }): PipelineRecipe {
  const s = (x: StageSpec): StageSpec => {
    const ratio = o.batch ? o.batch / x.batch : 1;
    return { ...x, batch: o.batch ?? x.batch, steps: Math.max(1, Math.round((x.steps * (o.steps ?? 1)) / ratio)), lr: x.lr * Math.sqrt(ratio) };
  };
  const out: PipelineRecipe = structuredClone(r);
  if (out.encoder.kind === 'mim') out.encoder.train = { ...out.encoder.train, ...s(out.encoder.train) };
  out.stages = { ib: { ...out.stages.ib, ...s(out.stages.ib) }, ia: s(out.stages.ia), ii: s(out.stages.ii) };
  if (out.generators.dit) out.generators.dit.train = { ...out.generators.dit.train, ...s(out.generators.dit.train) };
  if (out.generators.tarflow) out.generators.tarflow.train = { ...out.generators.tarflow.train, ...s(out.generators.tarflow.train) };
  return out;
}

// The paper's recipes (FAE, App. D; see the repository's research notes for sources):
//   encoder   frozen DINOv2-g/14 at 224 (ImageNet ADM centre crop 256, the whole image resized to
//             224) or SigLIP2 g-opt/16 at 256, patch features 16x16x1536
//   adapter   one attention layer, 24 heads x 256, -> 16x16x32 (Gaussian posterior, beta KL)
//   Ib        adapter + feature decoder (6 blocks, RMSNorm/RoPE/SwiGLU): 1M iters x 1024, lr 1e-4, cosine, 1000 warm-up
//   Ia, II    ViT-L pixel decoder: 1M iters x 512 in all, lr 1e-4, cosine, 1000 warm-up; the split between Ia and II
//             is not given [?]: 900k + 100k here; noise sigma 0.4 (DINOv2), scaled by the feature RMS for SigLIP2
//   generator LightningDiT-XL/1, 2M iters x 512, lr 1e-4 constant, EMA 0.9999, time shift 0.4 in LightningDiT's
//             form (2.5 in the SD3 form used here), Euler 250 steps with CFG; STARFlow-XL (1.4B) with noise
//             augmentation 0.3 as the flow alternative
// Pixel-decoder losses: the paper's L_rec + L_perc + L_GAN (weights not given) as @fae/decoders' 'fae-paper' preset
//             (RAE's recipe: L1 + LPIPS-VGG16 1.0 + 0.75 x adaptive GAN from 50% of each stage, D from 37.5%);
//             LPIPS comes from trainPipeline's lpipsWeights (torchvision VGG16 + lpips v0.1 linear layers)
import { ADAPTER_PRESETS } from '@fae/adapter';
import { FEATURE_DECODER_PRESETS, PIXEL_DECODER_PRESETS } from '@fae/decoders';
import { PRESETS as DIT_PRESETS } from '@fae/diffusion';
import { PRESETS as FLOW_PRESETS } from '@fae/flow';
import { HALF, IMAGENET_MEAN, IMAGENET_STD } from '../preprocess.js';
import type { PipelineRecipe } from './recipe.js';

/** A preset's config without the fields trainPipeline fills in from the encoder and the dataset. */
function strip<T extends object>(config: T, keys: string[]): Partial<T> {
  const out = { ...config } as Record<string, unknown>;
  for (const k of keys) delete out[k];
  return out as Partial<T>;
}

function paperRecipe(name: string, description: string, encoder: PipelineRecipe['encoder'], pixelNoise: PipelineRecipe['pixelDecoder']['noise']): PipelineRecipe {
  const dit = strip(DIT_PRESETS['LightningDiT-XL/1'].config, ['inputSize', 'inChannels', 'numClasses']);
  const flow = strip(FLOW_PRESETS['starflow-xl-fae'].config, ['inChannels', 'imgSize', 'numClasses']) as Required<PipelineRecipe['generators']>['tarflow']['config'];
  return {
    name, description, seed: 0,
    image: { size: 256, crop: 'adm', flip: true },
    encoder,
    latentChannels: 32,
    adapter: strip(ADAPTER_PRESETS['fae-dinov2-g'].config, ['inputDim', 'gridSize', 'latentChannels']),
    featureDecoder: strip(FEATURE_DECODER_PRESETS['fae-dinov2-g'].config, ['latentChannels', 'outputDim', 'gridSize']),
    pixelDecoder: { ...strip(PIXEL_DECODER_PRESETS['fae-dinov2-g-vit-l'].config, ['inputDim', 'gridSize', 'imageSize']), noise: pixelNoise },
    pixelObjective: { preset: 'fae-paper' },
    stages: {
      ib: { steps: 1_000_000, batch: 1024, lr: 1e-4, warmup: 1000, beta: 1e-6 },
      ia: { steps: 900_000, batch: 512, lr: 1e-4, warmup: 1000 },
      ii: { steps: 100_000, batch: 512, lr: 1e-4, warmup: 1000 },
    },
    generators: {
      dit: {
        config: dit,
        train: { steps: 2_000_000, batch: 512, lr: 1e-4, clipNorm: 1, emaDecay: 0.9999 },
        sampling: { sampler: 'euler', steps: 250, guidance: 1.5, shift: 2.5 },
      },
      tarflow: {
        config: flow,
        train: { steps: 1_000_000, batch: 512, lr: 1e-4, warmup: 1000, clipNorm: 1, noiseStd: 0.3, labelDropout: 0.1 },
        sampling: { guidance: 1, noiseStd: 0.3 },
      },
    },
    cache: { shardSize: 256, dtype: 'F16' },
  };
}

export const PAPER_DINOV2_G_RECIPE: PipelineRecipe = paperRecipe(
  'paper-dinov2-g', 'the paper: frozen DINOv2-g/14 at 224 on ImageNet-256 (ADM crop), 16x16x32 latents, LightningDiT-XL/1 + STARFlow',
  { kind: 'pretrained', source: 'facebook/dinov2-giant', encoderSize: 224, mean: IMAGENET_MEAN, std: IMAGENET_STD },
  { mode: 'fixed', sigma: 0.4 },
);

export const PAPER_SIGLIP2_RECIPE: PipelineRecipe = paperRecipe(
  'paper-siglip2', 'the paper: frozen SigLIP2 g-opt/16 at 256, 16x16x32 latents, LightningDiT-XL/1 + STARFlow',
  { kind: 'pretrained', source: 'google/siglip2-giant-opt-patch16-256', encoderSize: 256, mean: HALF, std: HALF },
  { mode: 'rms', sigma: 0.4 },
);

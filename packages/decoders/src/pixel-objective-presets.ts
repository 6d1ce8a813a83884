// Named pixel-decoder objectives (stages Ia / II), with where every number comes from. The FAE paper
// (§4.2, App. D) says L_pix = l_GAN L_GAN + l_perc L_perc + l_rec L_rec "following prior work (Yu et
// al., 2024a)" (TiTok) and gives no weights, so:
//
// 'fae-paper' (the default of the paper's pixel-decoder presets): RAE's decoder recipe, because the
//   pixel-decoder architecture the paper describes is RAE's ViT decoder (PIXEL_DECODER_PRESETS) and
//   its perceptual net (LPIPS-VGG16) is the one we have. bytetriper/RAE
//   `configs/stage1/training/DINOv2-B_decXL.yaml` (gan.loss) and `src/train_stage1.py`:
//     L1 reconstruction, weight 1                    `rec_loss = (recon - images).abs().mean()`
//     LPIPS (VGG16) weight 1.0                        `perceptual_weight: 1.0`, `lpips_start: 0`
//     GAN weight 0.75 x adaptive weight               `disc_weight: 0.75`; calculate_adaptive_weight:
//       ||grad_rec|| / (||grad_gan|| + 1e-6) on decoder_pred.weight, clamp [0, 1e4] (`max_d_weight`)
//     hinge D loss, generator loss -mean D(x^)        `disc_loss: hinge`, `gen_loss: vanilla`
//     generator GAN term from epoch 8 of 16 (1/2),    `disc_start: 8`, `disc_upd_start: 6`, `epochs: 16`
//     discriminator updates from epoch 6 (3/8)
//   The starts scale with the run's length (50% and 37.5% of `totalSteps`; the paper's 1M iterations:
//   500k and 375k). Differences: RAE's discriminator is a frozen DINO-S/8 with trainable heads,
//   spectral norm and DiffAugment; ours is taming's PatchGAN (RAE's is not ported).
// 'titok-stage2': bytedance/1d-tokenizer `configs/training/TiTok/stage2/titok_b64.yaml` (losses) and
//   `modeling/modules/losses.py` ReconstructionLoss_Stage2: L2 weight 1, perceptual weight 0.1 (TiTok
//   uses a ConvNeXt-S perceptual net; here whatever is injected), discriminator weight 0.01 fixed (no
//   adaptive weight), `discriminator_start: 20_000` of `max_train_steps: 500_000` (4%) for both the
//   generator term and the discriminator. Its LeCam regularisation (0.001) is not implemented.
// 'mnist': what the MNIST example trains with (examples/cli): L2 only. LPIPS's VGG16 was trained on
//   224 px natural RGB images and its deepest taps are 1x1 on 28 px digits, its weights cannot be
//   fetched on an offline machine, and a GAN on a 2-core CPU budget of minutes has no room for the
//   discriminator's warm-up; the L2 term alone gives sharp grey digits there.
//
// The perceptual loss is injected (`perceptual`), not imported: @fae/eval holds LPIPS and depends on
// the same core as this package, and the dependency direction (core <- decoders, eval <- pipeline)
// keeps decoders from importing eval. The recipe layer (pipeline) wires it: `perceptual: (a, b) =>
// lpips.loss(a, b)` with @fae/eval's `Lpips` loaded from torchvision's VGG16 and the lpips v0.1 linear
// layers. A preset whose perceptual weight is not 0 refuses to build without one (no silent L1-only).
import { ConfigError } from '@fae/core';
import type { PerceptualLoss } from './losses.js';
import type { GanLossOptions, PixelObjectiveOptions } from './pixel-objective.js';
import type { PatchDiscriminatorConfig } from './patch-discriminator.js';

export interface PixelObjectivePreset {
  reconstruction: 'l1' | 'l2';
  reconstructionWeight: number;
  /** 0: no perceptual term. Otherwise a perceptual function must be passed. */
  perceptualWeight: number;
  /** null: no GAN. Starts are fractions of the run's total steps. */
  gan: null | { weight: number; adaptive: boolean; adaptiveEps: number; maxAdaptiveWeight: number; startFraction: number; discStartFraction: number };
  description: string;
}

export const PIXEL_OBJECTIVE_PRESETS = {
  'fae-paper': {
    reconstruction: 'l1',
    reconstructionWeight: 1,
    perceptualWeight: 1,
    gan: { weight: 0.75, adaptive: true, adaptiveEps: 1e-6, maxAdaptiveWeight: 1e4, startFraction: 8 / 16, discStartFraction: 6 / 16 },
    description: "RAE's decoder recipe (the paper gives no weights): L1 + LPIPS-VGG16 1.0 + 0.75 x adaptive GAN from 50% of the run, D from 37.5%",
  },
  'titok-stage2': {
    reconstruction: 'l2',
    reconstructionWeight: 1,
    perceptualWeight: 0.1,
    gan: { weight: 0.01, adaptive: false, adaptiveEps: 1e-4, maxAdaptiveWeight: 1e4, startFraction: 20_000 / 500_000, discStartFraction: 20_000 / 500_000 },
    description: "TiTok stage 2 (the paper's cited recipe): L2 + perceptual 0.1 + fixed GAN 0.01 from 4% of the run (no LeCam)",
  },
  mnist: {
    reconstruction: 'l2',
    reconstructionWeight: 1,
    perceptualWeight: 0,
    gan: null,
    description: 'MNIST example: L2 only (no LPIPS on 28 px grey digits, no GAN in a minutes-long CPU budget)',
  },
} as const satisfies Record<string, PixelObjectivePreset>;

export type PixelObjectivePresetName = keyof typeof PIXEL_OBJECTIVE_PRESETS;

export interface PixelObjectivePresetOptions {
  /** Optimizer steps of the run; the GAN starts are fractions of it (the paper: 1,000,000). */
  totalSteps: number;
  /** Required when the preset has a perceptual weight (e.g. LPIPS-VGG16 from @fae/eval, on [-1, 1] images). */
  perceptual?: PerceptualLoss;
  /** Discriminator architecture (default taming's PatchGAN). */
  discriminator?: Partial<PatchDiscriminatorConfig>;
}

/** The PixelDecoderObjective options of a named preset for a run of `totalSteps` steps. */
export function pixelObjectivePreset(name: string, opts: PixelObjectivePresetOptions): PixelObjectiveOptions {
  const p = (PIXEL_OBJECTIVE_PRESETS as Record<string, PixelObjectivePreset>)[name];
  if (!p) throw new ConfigError('pixel objective presets', `unknown preset '${name}' (known: ${Object.keys(PIXEL_OBJECTIVE_PRESETS).join(', ')})`);
  if (!Number.isInteger(opts.totalSteps) || opts.totalSteps < 1) throw new ConfigError(`pixel objective '${name}'`, `totalSteps must be a positive integer, got ${opts.totalSteps}`);
  if (p.perceptualWeight > 0 && !opts.perceptual) {
    throw new ConfigError(`pixel objective '${name}'`, `needs a perceptual loss (weight ${p.perceptualWeight}): pass perceptual, e.g. (a, b) => lpips.loss(a, b) with @fae/eval's Lpips (VGG16)`);
  }
  let gan: GanLossOptions | false = false;
  if (p.gan) {
    gan = {
      weight: p.gan.weight,
      adaptive: p.gan.adaptive,
      adaptiveEps: p.gan.adaptiveEps,
      maxAdaptiveWeight: p.gan.maxAdaptiveWeight,
      start: Math.round(p.gan.startFraction * opts.totalSteps),
      discStart: Math.round(p.gan.discStartFraction * opts.totalSteps),
      ...(opts.discriminator ? { discriminator: opts.discriminator } : {}),
    };
  }
  return {
    reconstruction: p.reconstruction,
    reconstructionWeight: p.reconstructionWeight,
    perceptualWeight: p.perceptualWeight,
    ...(p.perceptualWeight > 0 ? { perceptual: opts.perceptual } : {}),
    gan,
  };
}

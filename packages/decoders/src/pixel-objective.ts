// The pixel decoder's training objective (stages Ia and II), one synchronous scalar per batch so it
// runs as the shared Trainer's lossFn with ONE optimizer over decoder + discriminator:
//
//   nll   = w_rec * L_rec(x^, x) + w_perc * L_perc(x^, x)             images mapped to [-1, 1]
//   gan   = -mean D(x^)           (D's weights detached: trains the decoder only)
//   lambda = w_gan * ||X^T dnll/dY|| / (||X^T dgan/dY|| + 1e-4), clipped, detached
//           (taming's adaptive weight: the gradients w.r.t. decoder_pred's weight, Y = X W + b, computed
//            from the head's input X and output Y, so the decoder is not run twice)
//   disc  = hinge(D(x), D(detach(x^)))                                 (trains D only)
//   loss  = nll + [step >= ganStart] lambda * gan + [step >= discStart] disc
//
// Defaults follow RAE's decoder recipe (configs/stage1/training/DINOv2-B_decXL.yaml): L1, LPIPS
// weight 1.0, GAN weight 0.75 with the adaptive weight clipped at 1e4.
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError } from '@fae/core';
import {
  adaptiveGanWeight, generatorAdversarialLoss, hingeDiscriminatorLoss, pixelReconstructionLoss, stopGradient, tidyObject,
  type PerceptualLoss, type ReconstructionKind,
} from './losses.js';
import { PatchDiscriminator, type PatchDiscriminatorConfig } from './patch-discriminator.js';
import type { PixelDecoder, RandomSource } from './pixel-decoder.js';

export interface GanLossOptions {
  /** Discriminator architecture (default taming's PatchGAN: ndf 64, 3 layers, batch norm). */
  discriminator?: Partial<PatchDiscriminatorConfig>;
  /** w_gan (RAE disc_weight 0.75). */
  weight?: number;
  /** Multiply by the adaptive weight (default true). */
  adaptive?: boolean;
  /** Clip of the adaptive weight (taming: 1e4). */
  maxAdaptiveWeight?: number;
  /** eps in ||g_nll|| / (||g_gan|| + eps) (taming 1e-4, the default; RAE 1e-6). */
  adaptiveEps?: number;
  /** First step at which the decoder gets the adversarial term (default 0). */
  start?: number;
  /** First step at which the discriminator trains (default = start; RAE starts D 2 epochs earlier). */
  discStart?: number;
}

export interface PixelObjectiveOptions {
  /** L_rec kind (default 'l1', RAE). */
  reconstruction?: ReconstructionKind;
  reconstructionWeight?: number;
  /** Perceptual distance on [-1, 1] images (e.g. LPIPS-VGG from @fae/eval); none when absent. */
  perceptual?: PerceptualLoss;
  /** w_perc (default 1.0, RAE's LPIPS weight). */
  perceptualWeight?: number;
  /** GAN terms; off when absent or false. */
  gan?: GanLossOptions | false;
}

export interface PixelLossParts {
  loss: tf.Scalar;
  rec: tf.Scalar;
  perceptual: tf.Scalar | null;
  gan: tf.Scalar | null;
  ganWeight: tf.Scalar | null;
  disc: tf.Scalar | null;
}

export class PixelDecoderObjective {
  readonly discriminator: PatchDiscriminator | null;
  readonly options: Required<Omit<PixelObjectiveOptions, 'perceptual' | 'gan'>> & { perceptual: PerceptualLoss | null; gan: Required<Omit<GanLossOptions, 'discriminator'>> | null };

  constructor(readonly decoder: PixelDecoder, opts: PixelObjectiveOptions = {}) {
    const gan = opts.gan || null;
    this.options = {
      reconstruction: opts.reconstruction ?? 'l1',
      reconstructionWeight: opts.reconstructionWeight ?? 1,
      perceptual: opts.perceptual ?? null,
      perceptualWeight: opts.perceptualWeight ?? 1,
      gan: gan && {
        weight: gan.weight ?? 0.75,
        adaptive: gan.adaptive ?? true,
        maxAdaptiveWeight: gan.maxAdaptiveWeight ?? 1e4,
        adaptiveEps: gan.adaptiveEps ?? 1e-4,
        start: gan.start ?? 0,
        discStart: gan.discStart ?? gan.start ?? 0,
      },
    };
    if (!['l1', 'l2'].includes(this.options.reconstruction)) throw new ConfigError('PixelDecoderObjective', `reconstruction must be 'l1' or 'l2', got '${this.options.reconstruction}'`);
    this.discriminator = gan ? new PatchDiscriminator(gan.discriminator) : null;
  }

  /**
   * The loss of one batch. features [B,h,w,D] (noise is added per the decoder's config when
   * `noise`), images [B,H,W,3] in [0, 1]. Synchronous and tidy: returns the scalars only.
   */
  loss(features: tf.Tensor, images: tf.Tensor, opts: { step?: number; rng?: RandomSource; noise?: boolean } = {}): PixelLossParts {
    const o = this.options;
    const step = opts.step ?? Number.POSITIVE_INFINITY;
    const [, h, w] = features.shape as number[];
    return tidyObject(() => {
      const tokens = this.decoder.tokens(features, { noise: opts.noise, rng: opts.rng }); // [B, T, W]
      const patches = this.decoder.head(tokens); // [B, T, p*p*3]
      const toSigned = (pp: tf.Tensor) => tf.sub(tf.mul(this.decoder.toImage(pp, h, w), 2), 1); // [B, H, W, 3] in [-1, 1]
      const fake = toSigned(patches);
      if (fake.shape.some((d, i) => d !== images.shape[i])) throw new ShapeError('target images', `[${fake.shape}] (the decoded size)`, `[${images.shape}]`);
      const real = tf.sub(tf.mul(images, 2), 1);
      const nllParts = (img: tf.Tensor) => {
        const rec = pixelReconstructionLoss(img, real, o.reconstruction);
        const perc = o.perceptual ? o.perceptual(img, real) : null;
        const nll = perc ? tf.add(tf.mul(rec, o.reconstructionWeight), tf.mul(perc, o.perceptualWeight)) : tf.mul(rec, o.reconstructionWeight);
        return { rec, perc, nll: nll as tf.Scalar };
      };
      const { rec, perc, nll } = nllParts(fake);
      let loss: tf.Tensor = nll;
      let gan: tf.Scalar | null = null;
      let ganWeight: tf.Scalar | null = null;
      let disc: tf.Scalar | null = null;
      const d = this.discriminator;
      if (d && o.gan && step >= o.gan.start) {
        gan = generatorAdversarialLoss(d.forward(fake, { detach: true }));
        ganWeight = o.gan.adaptive ? this.adaptiveWeight(tokens, patches, toSigned, (img) => nllParts(img).nll, d) : tf.scalar(1);
        ganWeight = tf.mul(ganWeight, o.gan.weight) as tf.Scalar;
        loss = tf.add(loss, tf.mul(ganWeight, gan));
      }
      if (d && o.gan && step >= o.gan.discStart) {
        disc = hingeDiscriminatorLoss(d.forward(real), d.forward(stopGradient(fake)));
        loss = tf.add(loss, disc);
      }
      return { loss: loss as tf.Scalar, rec, perceptual: perc, gan, ganWeight, disc };
    });
  }

  /** taming's calculate_adaptive_weight on decoder_pred.weight (detached). */
  private adaptiveWeight(tokens: tf.Tensor, patches: tf.Tensor, toSigned: (p: tf.Tensor) => tf.Tensor, nll: (img: tf.Tensor) => tf.Scalar, d: PatchDiscriminator): tf.Scalar {
    const x = tf.reshape(stopGradient(tokens), [-1, tokens.shape[2]!]); // [N, W]
    const y = stopGradient(patches); // [B, T, P]
    const gNll = tf.grad((yy: tf.Tensor) => nll(toSigned(yy)))(y); // [B, T, P]
    const gGan = tf.grad((yy: tf.Tensor) => generatorAdversarialLoss(d.forward(toSigned(yy), { detach: true })))(y);
    const flat = (g: tf.Tensor) => tf.reshape(g, [-1, g.shape[2]!]); // [N, P]
    const wNll = tf.matMul(x, flat(gNll), true, false); // [W, P]: d nll / d decoder_pred.weight
    const wGan = tf.matMul(x, flat(gGan), true, false);
    return stopGradient(adaptiveGanWeight(wNll, wGan, this.options.gan!.maxAdaptiveWeight, this.options.gan!.adaptiveEps));
  }

  dispose(): void {
    this.discriminator?.dispose();
  }
}

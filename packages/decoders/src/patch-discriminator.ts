// PatchDiscriminator: the PatchGAN of pix2pix / taming-transformers' `NLayerDiscriminator` (keys
// main.<i>): Conv 4x4/2 + LeakyReLU(0.2), (nLayers - 1) x [Conv 4x4/2 (no bias) + norm + LeakyReLU],
// Conv 4x4/1 (no bias) + norm + LeakyReLU, Conv 4x4/1 -> one logit per patch.
// Norm 'batch' normalises with the statistics of the batch it is given (the discriminator is only
// ever run in training, as taming runs it), with the affine weight/bias of BatchNorm2d; running
// statistics are not kept. `detach: true` runs it with its weights cut from the gradient, for the
// generator's adversarial term when generator and discriminator share one optimizer.
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, Module, ShapeError, conv2dNhwc, resolveConv2dConfig, type Conv2dConfig } from '@fae/core';
import { stopGradient } from './losses.js';

export interface PatchDiscriminatorConfig {
  inChannels: number;
  /** Filters of the first layer (taming: 64). */
  ndf: number;
  /** Strided layers (taming: 3). Each halves the resolution. */
  nLayers: number;
  norm: 'batch' | 'none';
}

export const PATCH_DISCRIMINATOR_DEFAULTS: PatchDiscriminatorConfig = { inChannels: 3, ndf: 64, nLayers: 3, norm: 'batch' };

class ConvSlot extends Module {
  readonly weight: tf.Variable; // HWIO
  readonly bias: tf.Variable | null;
  readonly cfg: Conv2dConfig;
  constructor(inC: number, outC: number, stride: number, bias: boolean) {
    super();
    this.cfg = resolveConv2dConfig([4, 4], { stride, padding: 1 });
    this.weight = this.addParameter('weight', [outC, inC, 4, 4], (s) => tf.randomNormal(s, 0, 0.02), 'conv2d');
    this.bias = bias ? this.addParameter('bias', [outC], (s) => tf.zeros(s)) : null;
  }
  forward(x: tf.Tensor, detach: boolean): tf.Tensor {
    const w = detach ? stopGradient(this.weight) : this.weight;
    const b = this.bias && detach ? stopGradient(this.bias) : this.bias;
    return conv2dNhwc(x, w, b, this.cfg);
  }
}

class BatchNormSlot extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;
  constructor(c: number) {
    super();
    this.weight = this.addParameter('weight', [c], (s) => tf.randomNormal(s, 1, 0.02));
    this.bias = this.addParameter('bias', [c], (s) => tf.zeros(s));
  }
  /** Batch statistics over [B, H, W] (biased variance), eps 1e-5 as BatchNorm2d. */
  forward(x: tf.Tensor, detach: boolean): tf.Tensor {
    return tf.tidy(() => {
      const { mean, variance } = tf.moments(x, [0, 1, 2]); // [C] each
      const y = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-5))); // [B, H, W, C]
      const w = detach ? stopGradient(this.weight) : this.weight;
      const b = detach ? stopGradient(this.bias) : this.bias;
      return tf.add(tf.mul(y, w), b);
    });
  }
}

class Slots extends Module {
  put<M extends Module>(i: number, m: M): M {
    return this.addModule(String(i), m);
  }
}

export class PatchDiscriminator extends Module {
  readonly config: PatchDiscriminatorConfig;
  private readonly steps: Array<{ conv: ConvSlot; norm: BatchNormSlot | null; act: boolean }> = [];

  constructor(config: Partial<PatchDiscriminatorConfig> = {}) {
    super();
    const c = (this.config = { ...PATCH_DISCRIMINATOR_DEFAULTS, ...config });
    if (!(c.nLayers >= 1) || !(c.ndf >= 1) || !['batch', 'none'].includes(c.norm)) {
      throw new ConfigError('PatchDiscriminator', `need nLayers >= 1, ndf >= 1, norm 'batch' | 'none'; got ${JSON.stringify(c)}`);
    }
    const main = this.addModule('main', new Slots());
    let i = 0;
    const add = (inC: number, outC: number, stride: number, bias: boolean, norm: boolean, act: boolean) => {
      const conv = main.put(i++, new ConvSlot(inC, outC, stride, bias));
      const bn = norm && c.norm === 'batch' ? main.put(i, new BatchNormSlot(outC)) : null;
      if (norm) i++; // the norm occupies a Sequential slot even when it holds no weights (nn.Identity)
      if (act) i++; // LeakyReLU slot
      this.steps.push({ conv, norm: bn, act });
    };
    let mult = 1;
    add(c.inChannels, c.ndf, 2, true, false, true);
    for (let n = 1; n < c.nLayers; n++) {
      const prev = mult;
      mult = Math.min(2 ** n, 8);
      add(c.ndf * prev, c.ndf * mult, 2, false, true, true);
    }
    const prev = mult;
    mult = Math.min(2 ** c.nLayers, 8);
    add(c.ndf * prev, c.ndf * mult, 1, false, true, true);
    add(c.ndf * mult, 1, 1, true, false, false);
  }

  /**
   * Smallest input side that leaves one output patch: a 4x4/2 conv with padding 1 maps L to
   * floor(L / 2), a 4x4/1 one to L - 1, so the last two need 3 and each strided layer doubles it.
   */
  get minInputSize(): number {
    return 3 * 2 ** this.config.nLayers;
  }

  /** images [B, H, W, C] (in [-1, 1]) -> patch logits [B, h', w', 1] */
  forward(images: tf.Tensor, opts: { detach?: boolean } = {}): tf.Tensor {
    if (images.rank !== 4 || images.shape[3] !== this.config.inChannels) {
      throw new ShapeError('discriminator input', `[B, H, W, ${this.config.inChannels}] (NHWC)`, `[${images.shape}]`);
    }
    if (Math.min(images.shape[1]!, images.shape[2]!) < this.minInputSize) {
      throw new ShapeError('discriminator input', `H and W of at least ${this.minInputSize} for ${this.config.nLayers} strided layers`, `[${images.shape}]`);
    }
    const detach = opts.detach ?? false;
    return tf.tidy(() => {
      let x = images;
      for (const s of this.steps) {
        x = s.conv.forward(x, detach); // [B, h, w, C']
        if (s.norm) x = s.norm.forward(x, detach);
        if (s.act) x = tf.leakyRelu(x, 0.2);
      }
      return x; // [B, h', w', 1]
    });
  }
}

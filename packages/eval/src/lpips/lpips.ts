// LPIPS v0.1 (Zhang et al. 2018, the `lpips` package) with the VGG16 backbone:
//   x -> (x - shift) / scale  (ScalingLayer: shift [-.030, -.088, -.188], scale [.458, .448, .450])
//   -> VGG16 relu1_2 .. relu5_3 -> unit-normalise over channels (x / (|x|_2 + 1e-10))
//   -> (f_a - f_b)^2 -> 1x1 conv "lin" layer (no bias) -> spatial mean -> sum over the 5 layers.
// Keys: the backbone under torchvision's names (`features.N.weight`), the linear layers as the lpips
// package stores them (`lin0.model.1.weight` ... `lin4.model.1.weight`); each loads from its own file.
// Differentiable in its inputs (usable as a perceptual loss); the weights are frozen.
import * as tf from '@tensorflow/tfjs-core';
import { Conv2d, Module, ShapeError, type LoadReport, type TensorStore } from '@fae/core';
import { Vgg16Features } from './vgg16-features.js';

const SHIFT = [-0.03, -0.088, -0.188];
const SCALE = [0.458, 0.448, 0.45];
const CHANNELS = [64, 128, 256, 512, 512];

/** The `model` Sequential of lpips.NetLinLayer: [Dropout, Conv2d(C, 1, 1, bias=False)] -> key `1.weight`. */
class NetLinSequential extends Module {
  readonly conv: Conv2d;
  constructor(channels: number) {
    super();
    this.conv = this.addModule('1', new Conv2d(channels, 1, 1, { bias: false }));
  }
}

/** lpips.NetLinLayer (dropout is inactive in evaluation); keys `model.1.weight`. */
class NetLinLayer extends Module {
  readonly model: NetLinSequential;
  constructor(channels: number) {
    super();
    this.model = this.addModule('model', new NetLinSequential(channels));
  }
  /** d: [B, h, w, C] -> [B, h, w, 1] */
  forward(d: tf.Tensor): tf.Tensor {
    return this.model.conv.forward(d);
  }
}

export interface LpipsResult {
  /** [B] */
  distance: tf.Tensor1D;
  /** [B, 5]: each layer's spatially averaged contribution */
  perLayer: tf.Tensor2D;
}

export class Lpips extends Module {
  readonly features = this.addModule('features', new Vgg16Features());
  readonly lins = CHANNELS.map((c, i) => this.addModule(`lin${i}`, new NetLinLayer(c)));

  constructor() {
    super();
    this.eval();
    this.freeze();
  }

  /** torchvision VGG16 weights (`features.*`; `classifier.*` and other keys are ignored). */
  async loadBackbone(store: TensorStore, opts: { prefix?: string } = {}): Promise<LoadReport> {
    return this.features.loadStateDict(store, { prefix: (opts.prefix ?? '') + 'features.' });
  }

  /** The published LPIPS linear layers (`lin{0..4}.model.1.weight`, e.g. lpips/weights/v0.1/vgg.pth). */
  async loadLinearLayers(store: TensorStore, opts: { prefix?: string } = {}): Promise<LoadReport[]> {
    const reports: LoadReport[] = [];
    for (let i = 0; i < this.lins.length; i++) reports.push(await this.lins[i].loadStateDict(store, { prefix: `${opts.prefix ?? ''}lin${i}.` }));
    return reports;
  }

  /**
   * a, b: [B, H, W, 3] images in [-1, 1] (pass `normalize: true` for [0, 1]) -> distances. The caller
   * owns the returned tensors.
   */
  distance(a: tf.Tensor, b: tf.Tensor, opts: { normalize?: boolean } = {}): LpipsResult {
    if (a.rank !== 4 || a.shape[3] !== 3 || a.shape.join() !== b.shape.join()) {
      throw new ShapeError('Lpips inputs', 'two [B, H, W, 3] images of one shape', `[${a.shape}] and [${b.shape}]`);
    }
    return tf.tidy(() => {
      const shift = tf.tensor1d(SHIFT);
      const scale = tf.tensor1d(SCALE);
      const prep = (x: tf.Tensor) => {
        const x1 = opts.normalize ? tf.sub(tf.mul(x, 2), 1) : x;
        return tf.div(tf.sub(x1, shift), scale); // [B, H, W, 3]
      };
      const B = a.shape[0];
      const fa = this.features.forward(prep(a));
      const fb = this.features.forward(prep(b));
      const layers = fa.map((f, k) => {
        const na = unitNormalize(f);
        const nb = unitNormalize(fb[k]);
        const d = tf.square(tf.sub(na, nb)); // [B, h, w, C]
        return tf.reshape(tf.mean(this.lins[k].forward(d), [1, 2, 3]), [B, 1]); // [B, 1]
      });
      const perLayer = tf.concat(layers, 1) as tf.Tensor2D; // [B, 5]
      return { distance: tf.sum(perLayer, 1) as tf.Tensor1D, perLayer };
    });
  }

  /** Mean LPIPS over the batch as a scalar loss (differentiable in a and b). */
  loss(a: tf.Tensor, b: tf.Tensor, opts: { normalize?: boolean } = {}): tf.Scalar {
    return tf.tidy(() => tf.mean(this.distance(a, b, opts).distance) as tf.Scalar);
  }

  forward(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.distance(a, b).distance);
  }
}

/** x / (sqrt(sum_c x^2) + 1e-10) over the channel axis (lpips.normalize_tensor). */
export function unitNormalize(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.div(x, tf.add(tf.sqrt(tf.sum(tf.square(x), 3, true)), 1e-10)));
}

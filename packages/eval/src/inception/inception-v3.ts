// The FID Inception-v3, exactly as torch-fidelity's FeatureExtractorInceptionV3 (a port of the
// 2015-12-05 TF graph `classify_image_graph_def.pb` that the ADM evaluator runs): TF1 bilinear
// resize to 299x299, (x - 128) / 128, the stem, Mixed_5b..Mixed_7c, global average pool, fc 2048->1008.
// Same module tree and state-dict keys, so torch-fidelity's `weights-inception-2015-12-05-6726825d.pth`
// (or a safetensors copy) loads strictly.
//
// Features (names as torch-fidelity):
//   '64', '192', '768'  spatially averaged outputs of the stem / Mixed_5 input / Mixed_6e   [B, C]
//   '2048'              pool3, the FID feature                                                [B, 2048]
//   'logits_unbiased'   pool3 @ fc.weight^T (no bias), the Inception Score input              [B, 1008]
//   'logits'            fc(pool3)                                                              [B, 1008]
//   'spatial'           sFID feature: the first 7 channels of TF's `mixed_6/conv`, i.e.
//                       Mixed_6d.branch1x1's output, flattened in NHWC (h, w, c) order as ADM  [B, 17*17*7]
import * as tf from '@tensorflow/tfjs-core';
import { Linear, Module, ShapeError, globalAvgPool2d, maxPool2dNhwc, withBatchNormCounters, type LoadReport, type TensorStore } from '@fae/core';
import { BasicConv2d, InceptionA, InceptionB, InceptionC, InceptionD, InceptionE } from './inception-blocks.js';
import { resizeBilinearTf1 } from './resize-tf1.js';

export const INCEPTION_FEATURES = ['64', '192', '768', '2048', 'logits_unbiased', 'logits', 'spatial'] as const;
export type InceptionFeature = (typeof INCEPTION_FEATURES)[number];
export type InceptionFeatures = Partial<Record<InceptionFeature, tf.Tensor2D>>;

/** Channels of `mixed_6/conv` the ADM evaluator keeps for sFID. */
export const SFID_CHANNELS = 7;

export class FidInceptionV3 extends Module {
  static readonly INPUT_SIZE = 299;
  readonly Conv2d_1a_3x3 = this.addModule('Conv2d_1a_3x3', new BasicConv2d(3, 32, 3, { stride: 2 }));
  readonly Conv2d_2a_3x3 = this.addModule('Conv2d_2a_3x3', new BasicConv2d(32, 32, 3));
  readonly Conv2d_2b_3x3 = this.addModule('Conv2d_2b_3x3', new BasicConv2d(32, 64, 3, { padding: 1 }));
  readonly Conv2d_3b_1x1 = this.addModule('Conv2d_3b_1x1', new BasicConv2d(64, 80, 1));
  readonly Conv2d_4a_3x3 = this.addModule('Conv2d_4a_3x3', new BasicConv2d(80, 192, 3));
  readonly Mixed_5b = this.addModule('Mixed_5b', new InceptionA(192, 32));
  readonly Mixed_5c = this.addModule('Mixed_5c', new InceptionA(256, 64));
  readonly Mixed_5d = this.addModule('Mixed_5d', new InceptionA(288, 64));
  readonly Mixed_6a = this.addModule('Mixed_6a', new InceptionB(288));
  readonly Mixed_6b = this.addModule('Mixed_6b', new InceptionC(768, 128));
  readonly Mixed_6c = this.addModule('Mixed_6c', new InceptionC(768, 160));
  readonly Mixed_6d = this.addModule('Mixed_6d', new InceptionC(768, 160));
  readonly Mixed_6e = this.addModule('Mixed_6e', new InceptionC(768, 192));
  readonly Mixed_7a = this.addModule('Mixed_7a', new InceptionD(768));
  readonly Mixed_7b = this.addModule('Mixed_7b', new InceptionE(1280, 'avg'));
  readonly Mixed_7c = this.addModule('Mixed_7c', new InceptionE(2048, 'max'));
  readonly fc = this.addModule('fc', new Linear(2048, 1008));

  constructor() {
    super();
    this.eval();
    this.freeze();
  }

  /**
   * Loads torch-fidelity's state dict (strict). Checkpoints without BatchNorm `num_batches_tracked`
   * counters load too, as they do in torch.
   */
  async loadWeights(store: TensorStore, opts: { prefix?: string } = {}): Promise<LoadReport> {
    return this.loadStateDict(withBatchNormCounters(store, this, opts.prefix ?? ''), { strict: true, prefix: opts.prefix });
  }

  /**
   * images: [B, H, W, 3] NHWC with values in [0, 255] (int32 from uint8 pixels, or float32; torch-fidelity
   * takes uint8, so pass integer pixels for parity) -> the requested features, each [B, D] float32.
   * Stops after the last feature asked for. The caller owns (disposes) the returned tensors.
   */
  features(images: tf.Tensor, names: readonly InceptionFeature[] = ['2048']): InceptionFeatures {
    if (images.rank !== 4 || images.shape[3] !== 3) throw new ShapeError('FidInceptionV3 images', '[B, H, W, 3] (NHWC, values 0..255)', `[${images.shape}]`);
    const want = new Set(names);
    for (const n of want) if (!INCEPTION_FEATURES.includes(n)) throw new ShapeError('FidInceptionV3 feature', `one of ${INCEPTION_FEATURES.join(', ')}`, String(n));
    const out: InceptionFeatures = {};
    const done = () => [...want].every((n) => out[n]);
    const take = (name: InceptionFeature, t: () => tf.Tensor) => {
      if (want.has(name)) out[name] = tf.keep(t()) as tf.Tensor2D;
    };
    tf.tidy(() => {
      const size = FidInceptionV3.INPUT_SIZE;
      let x = resizeBilinearTf1(images, [size, size]); // [B, 299, 299, 3]
      x = tf.div(tf.sub(x, 128), 128);
      x = this.Conv2d_1a_3x3.forward(x); // [B, 149, 149, 32]
      x = this.Conv2d_2a_3x3.forward(x); // [B, 147, 147, 32]
      x = this.Conv2d_2b_3x3.forward(x); // [B, 147, 147, 64]
      x = maxPool2dNhwc(x, 3, { stride: 2 }); // [B, 73, 73, 64]
      take('64', () => globalAvgPool2d(x));
      if (done()) return;
      x = this.Conv2d_3b_1x1.forward(x); // [B, 73, 73, 80]
      x = this.Conv2d_4a_3x3.forward(x); // [B, 71, 71, 192]
      x = maxPool2dNhwc(x, 3, { stride: 2 }); // [B, 35, 35, 192]
      take('192', () => globalAvgPool2d(x));
      if (done()) return;
      x = this.Mixed_5b.forward(x); // [B, 35, 35, 256]
      x = this.Mixed_5c.forward(x); // [B, 35, 35, 288]
      x = this.Mixed_5d.forward(x); // [B, 35, 35, 288]
      x = this.Mixed_6a.forward(x); // [B, 17, 17, 768]
      x = this.Mixed_6b.forward(x); // [B, 17, 17, 768]
      x = this.Mixed_6c.forward(x); // [B, 17, 17, 768]
      const taps: { branch1x1?: tf.Tensor } = {};
      x = this.Mixed_6d.forward(x, want.has('spatial') ? taps : undefined); // [B, 17, 17, 768]
      if (taps.branch1x1) {
        const b = taps.branch1x1; // [B, 17, 17, 192]
        take('spatial', () => tf.reshape(tf.slice(b, [0, 0, 0, 0], [-1, -1, -1, SFID_CHANNELS]), [b.shape[0], -1])); // [B, 2023]
        b.dispose();
      }
      if (done()) return;
      x = this.Mixed_6e.forward(x); // [B, 17, 17, 768]
      take('768', () => globalAvgPool2d(x));
      if (done()) return;
      x = this.Mixed_7a.forward(x); // [B, 8, 8, 1280]
      x = this.Mixed_7b.forward(x); // [B, 8, 8, 2048]
      x = this.Mixed_7c.forward(x); // [B, 8, 8, 2048]
      const pool3 = globalAvgPool2d(x); // [B, 2048]
      take('2048', () => pool3);
      const unbiased = tf.matMul(pool3, this.fc.weight); // [B, 1008]
      take('logits_unbiased', () => unbiased);
      take('logits', () => tf.add(unbiased, this.fc.bias!));
    });
    return out;
  }

  /** pool3 features [B, 2048] (the FID feature). */
  forward(images: tf.Tensor): tf.Tensor {
    return this.features(images, ['2048'])['2048']!;
  }
}

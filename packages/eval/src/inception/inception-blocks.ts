// The building blocks of torch-fidelity's FeatureExtractorInceptionV3 (the TF-graph-compatible FID
// Inception), with its state-dict key names: BasicConv2d (conv without bias + BatchNorm eps 1e-3 +
// ReLU) and the Inception A/B/C/D/E_1/E_2 blocks, including torch-fidelity's TF patches (average
// pools that exclude padding; max pool in the last block). NHWC throughout: channels concatenate on
// axis 3 in torch's branch order, so flattened features match the reference channel order.
import * as tf from '@tensorflow/tfjs-core';
import { BatchNorm2d, Conv2d, Module, avgPool2dNhwc, maxPool2dNhwc, type Pair } from '@fae/core';

export class BasicConv2d extends Module {
  readonly conv: Conv2d;
  readonly bn: BatchNorm2d;
  constructor(inChannels: number, outChannels: number, kernelSize: Pair, opts: { stride?: Pair; padding?: Pair } = {}) {
    super();
    this.conv = this.addModule('conv', new Conv2d(inChannels, outChannels, kernelSize, { ...opts, bias: false }));
    this.bn = this.addModule('bn', new BatchNorm2d(outChannels, { eps: 1e-3 }));
  }

  /**
   * x: [B, H, W, in] -> [B, H', W', out] = relu(bn(conv(x))). In eval mode the BatchNorm is folded
   * into the convolution (w * gamma / sqrt(var + eps), bias beta - mean * gamma / sqrt(var + eps)) and
   * run as one fused conv + bias + ReLU kernel.
   */
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      if (this.training) return tf.relu(this.bn.forward(this.conv.forward(x)));
      const bn = this.bn;
      const scale = tf.mul(tf.rsqrt(tf.add(bn.runningVar!, bn.eps)), bn.weight!); // [out]
      const shift = tf.sub(bn.bias!, tf.mul(bn.runningMean!, scale)); // [out]
      const filter = tf.mul(this.conv.weight, scale) as tf.Tensor4D; // [kh, kw, in, out]
      const [pt, pb, pl, pr] = this.conv.config.pad;
      const pad = pt || pb || pl || pr ? ([[0, 0], [pt, pb], [pl, pr], [0, 0]] as [[number, number], [number, number], [number, number], [number, number]]) : 'valid';
      return tf.fused.conv2d({ x: x as tf.Tensor4D, filter, strides: this.conv.config.stride, pad, bias: shift, activation: 'relu' }); // [B, H', W', out]
    });
  }
}

/** TF's average pool over 3x3 windows, stride 1, padding 1, padding excluded from the mean. */
function tfAvgPool3x3(x: tf.Tensor): tf.Tensor {
  return avgPool2dNhwc(x, 3, { stride: 1, padding: 1, countIncludePad: false });
}

export class InceptionA extends Module {
  readonly branch1x1: BasicConv2d;
  readonly branch5x5_1: BasicConv2d;
  readonly branch5x5_2: BasicConv2d;
  readonly branch3x3dbl_1: BasicConv2d;
  readonly branch3x3dbl_2: BasicConv2d;
  readonly branch3x3dbl_3: BasicConv2d;
  readonly branch_pool: BasicConv2d;
  constructor(inChannels: number, poolFeatures: number) {
    super();
    this.branch1x1 = this.addModule('branch1x1', new BasicConv2d(inChannels, 64, 1));
    this.branch5x5_1 = this.addModule('branch5x5_1', new BasicConv2d(inChannels, 48, 1));
    this.branch5x5_2 = this.addModule('branch5x5_2', new BasicConv2d(48, 64, 5, { padding: 2 }));
    this.branch3x3dbl_1 = this.addModule('branch3x3dbl_1', new BasicConv2d(inChannels, 64, 1));
    this.branch3x3dbl_2 = this.addModule('branch3x3dbl_2', new BasicConv2d(64, 96, 3, { padding: 1 }));
    this.branch3x3dbl_3 = this.addModule('branch3x3dbl_3', new BasicConv2d(96, 96, 3, { padding: 1 }));
    this.branch_pool = this.addModule('branch_pool', new BasicConv2d(inChannels, poolFeatures, 1));
  }

  /** x: [B, 35, 35, in] -> [B, 35, 35, 224 + poolFeatures] */
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const b1 = this.branch1x1.forward(x); // [B, H, W, 64]
      const b5 = this.branch5x5_2.forward(this.branch5x5_1.forward(x)); // [B, H, W, 64]
      const b3 = this.branch3x3dbl_3.forward(this.branch3x3dbl_2.forward(this.branch3x3dbl_1.forward(x))); // [B, H, W, 96]
      const bp = this.branch_pool.forward(tfAvgPool3x3(x)); // [B, H, W, pool]
      return tf.concat([b1, b5, b3, bp], 3);
    });
  }
}

export class InceptionB extends Module {
  readonly branch3x3: BasicConv2d;
  readonly branch3x3dbl_1: BasicConv2d;
  readonly branch3x3dbl_2: BasicConv2d;
  readonly branch3x3dbl_3: BasicConv2d;
  constructor(inChannels: number) {
    super();
    this.branch3x3 = this.addModule('branch3x3', new BasicConv2d(inChannels, 384, 3, { stride: 2 }));
    this.branch3x3dbl_1 = this.addModule('branch3x3dbl_1', new BasicConv2d(inChannels, 64, 1));
    this.branch3x3dbl_2 = this.addModule('branch3x3dbl_2', new BasicConv2d(64, 96, 3, { padding: 1 }));
    this.branch3x3dbl_3 = this.addModule('branch3x3dbl_3', new BasicConv2d(96, 96, 3, { stride: 2 }));
  }

  /** x: [B, 35, 35, in] -> [B, 17, 17, 480 + in] */
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const b3 = this.branch3x3.forward(x); // [B, 17, 17, 384]
      const bd = this.branch3x3dbl_3.forward(this.branch3x3dbl_2.forward(this.branch3x3dbl_1.forward(x))); // [B, 17, 17, 96]
      const bp = maxPool2dNhwc(x, 3, { stride: 2 }); // [B, 17, 17, in]
      return tf.concat([b3, bd, bp], 3);
    });
  }
}

export class InceptionC extends Module {
  readonly branch1x1: BasicConv2d;
  readonly branch7x7_1: BasicConv2d;
  readonly branch7x7_2: BasicConv2d;
  readonly branch7x7_3: BasicConv2d;
  readonly branch7x7dbl_1: BasicConv2d;
  readonly branch7x7dbl_2: BasicConv2d;
  readonly branch7x7dbl_3: BasicConv2d;
  readonly branch7x7dbl_4: BasicConv2d;
  readonly branch7x7dbl_5: BasicConv2d;
  readonly branch_pool: BasicConv2d;
  constructor(inChannels: number, c7: number) {
    super();
    this.branch1x1 = this.addModule('branch1x1', new BasicConv2d(inChannels, 192, 1));
    this.branch7x7_1 = this.addModule('branch7x7_1', new BasicConv2d(inChannels, c7, 1));
    this.branch7x7_2 = this.addModule('branch7x7_2', new BasicConv2d(c7, c7, [1, 7], { padding: [0, 3] }));
    this.branch7x7_3 = this.addModule('branch7x7_3', new BasicConv2d(c7, 192, [7, 1], { padding: [3, 0] }));
    this.branch7x7dbl_1 = this.addModule('branch7x7dbl_1', new BasicConv2d(inChannels, c7, 1));
    this.branch7x7dbl_2 = this.addModule('branch7x7dbl_2', new BasicConv2d(c7, c7, [7, 1], { padding: [3, 0] }));
    this.branch7x7dbl_3 = this.addModule('branch7x7dbl_3', new BasicConv2d(c7, c7, [1, 7], { padding: [0, 3] }));
    this.branch7x7dbl_4 = this.addModule('branch7x7dbl_4', new BasicConv2d(c7, c7, [7, 1], { padding: [3, 0] }));
    this.branch7x7dbl_5 = this.addModule('branch7x7dbl_5', new BasicConv2d(c7, 192, [1, 7], { padding: [0, 3] }));
    this.branch_pool = this.addModule('branch_pool', new BasicConv2d(inChannels, 192, 1));
  }

  /** x: [B, 17, 17, 768] -> [B, 17, 17, 768]. `taps.branch1x1` receives the 1x1 branch (TF 'mixed_N/conv'). */
  forward(x: tf.Tensor, taps?: { branch1x1?: tf.Tensor }): tf.Tensor {
    return tf.tidy(() => {
      const b1 = this.branch1x1.forward(x); // [B, 17, 17, 192]
      if (taps) taps.branch1x1 = tf.keep(b1);
      const b7 = this.branch7x7_3.forward(this.branch7x7_2.forward(this.branch7x7_1.forward(x))); // [B, 17, 17, 192]
      let bd = this.branch7x7dbl_1.forward(x); // [B, 17, 17, c7]
      bd = this.branch7x7dbl_3.forward(this.branch7x7dbl_2.forward(bd));
      bd = this.branch7x7dbl_5.forward(this.branch7x7dbl_4.forward(bd)); // [B, 17, 17, 192]
      const bp = this.branch_pool.forward(tfAvgPool3x3(x)); // [B, 17, 17, 192]
      return tf.concat([b1, b7, bd, bp], 3);
    });
  }
}

export class InceptionD extends Module {
  readonly branch3x3_1: BasicConv2d;
  readonly branch3x3_2: BasicConv2d;
  readonly branch7x7x3_1: BasicConv2d;
  readonly branch7x7x3_2: BasicConv2d;
  readonly branch7x7x3_3: BasicConv2d;
  readonly branch7x7x3_4: BasicConv2d;
  constructor(inChannels: number) {
    super();
    this.branch3x3_1 = this.addModule('branch3x3_1', new BasicConv2d(inChannels, 192, 1));
    this.branch3x3_2 = this.addModule('branch3x3_2', new BasicConv2d(192, 320, 3, { stride: 2 }));
    this.branch7x7x3_1 = this.addModule('branch7x7x3_1', new BasicConv2d(inChannels, 192, 1));
    this.branch7x7x3_2 = this.addModule('branch7x7x3_2', new BasicConv2d(192, 192, [1, 7], { padding: [0, 3] }));
    this.branch7x7x3_3 = this.addModule('branch7x7x3_3', new BasicConv2d(192, 192, [7, 1], { padding: [3, 0] }));
    this.branch7x7x3_4 = this.addModule('branch7x7x3_4', new BasicConv2d(192, 192, 3, { stride: 2 }));
  }

  /** x: [B, 17, 17, 768] -> [B, 8, 8, 1280] */
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const b3 = this.branch3x3_2.forward(this.branch3x3_1.forward(x)); // [B, 8, 8, 320]
      let b7 = this.branch7x7x3_2.forward(this.branch7x7x3_1.forward(x));
      b7 = this.branch7x7x3_4.forward(this.branch7x7x3_3.forward(b7)); // [B, 8, 8, 192]
      const bp = maxPool2dNhwc(x, 3, { stride: 2 }); // [B, 8, 8, 768]
      return tf.concat([b3, b7, bp], 3);
    });
  }
}

/** Mixed_7b (average-pool branch) and Mixed_7c (max-pool branch, a quirk of the TF graph). */
export class InceptionE extends Module {
  readonly branch1x1: BasicConv2d;
  readonly branch3x3_1: BasicConv2d;
  readonly branch3x3_2a: BasicConv2d;
  readonly branch3x3_2b: BasicConv2d;
  readonly branch3x3dbl_1: BasicConv2d;
  readonly branch3x3dbl_2: BasicConv2d;
  readonly branch3x3dbl_3a: BasicConv2d;
  readonly branch3x3dbl_3b: BasicConv2d;
  readonly branch_pool: BasicConv2d;
  constructor(inChannels: number, readonly pool: 'avg' | 'max') {
    super();
    this.branch1x1 = this.addModule('branch1x1', new BasicConv2d(inChannels, 320, 1));
    this.branch3x3_1 = this.addModule('branch3x3_1', new BasicConv2d(inChannels, 384, 1));
    this.branch3x3_2a = this.addModule('branch3x3_2a', new BasicConv2d(384, 384, [1, 3], { padding: [0, 1] }));
    this.branch3x3_2b = this.addModule('branch3x3_2b', new BasicConv2d(384, 384, [3, 1], { padding: [1, 0] }));
    this.branch3x3dbl_1 = this.addModule('branch3x3dbl_1', new BasicConv2d(inChannels, 448, 1));
    this.branch3x3dbl_2 = this.addModule('branch3x3dbl_2', new BasicConv2d(448, 384, 3, { padding: 1 }));
    this.branch3x3dbl_3a = this.addModule('branch3x3dbl_3a', new BasicConv2d(384, 384, [1, 3], { padding: [0, 1] }));
    this.branch3x3dbl_3b = this.addModule('branch3x3dbl_3b', new BasicConv2d(384, 384, [3, 1], { padding: [1, 0] }));
    this.branch_pool = this.addModule('branch_pool', new BasicConv2d(inChannels, 192, 1));
  }

  /** x: [B, 8, 8, in] -> [B, 8, 8, 2048] */
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const b1 = this.branch1x1.forward(x); // [B, 8, 8, 320]
      const t3 = this.branch3x3_1.forward(x); // [B, 8, 8, 384]
      const b3 = tf.concat([this.branch3x3_2a.forward(t3), this.branch3x3_2b.forward(t3)], 3); // [B, 8, 8, 768]
      const td = this.branch3x3dbl_2.forward(this.branch3x3dbl_1.forward(x)); // [B, 8, 8, 384]
      const bd = tf.concat([this.branch3x3dbl_3a.forward(td), this.branch3x3dbl_3b.forward(td)], 3); // [B, 8, 8, 768]
      const pooled = this.pool === 'avg' ? tfAvgPool3x3(x) : maxPool2dNhwc(x, 3, { stride: 1, padding: 1 });
      const bp = this.branch_pool.forward(pooled); // [B, 8, 8, 192]
      return tf.concat([b1, b3, bd, bp], 3);
    });
  }
}

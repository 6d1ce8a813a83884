// Convolution, batch norm and pooling with PyTorch's semantics and key names, computed NHWC.
//   Conv2d      : weight (OIHW in checkpoints, HWIO here via the 'conv2d' layout tag), bias;
//                 stride / padding (int, pair, 'same', 'valid') / dilation / groups / padding_mode as torch.
//   BatchNorm2d : weight, bias, running_mean, running_var, num_batches_tracked; eps, momentum.
//                 eval(): running statistics; train(): batch statistics + running-statistics update.
//   MaxPool2d / AvgPool2d : kernel, stride (default = kernel), padding, ceil_mode, and for AvgPool2d
//                 count_include_pad and divisor_override, with torch's output sizes and divisors.
import * as tf from '@tensorflow/tfjs-core';
import { stackMany } from '../ops/many.js';
import { ConfigError, ShapeError } from '../errors.js';
import type { TensorInfo, TensorStore, TypedArray } from '../io/store.js';
import { Module } from './module.js';
import { init } from './init.js';

export type Pair = number | readonly [number, number];

function pair(v: Pair, what: string): [number, number] {
  const p: [number, number] = typeof v === 'number' ? [v, v] : [v[0], v[1]];
  if (!p.every((n) => Number.isInteger(n) && n >= 0)) throw new ConfigError(what, `expected a non-negative integer or a pair of them, got ${JSON.stringify(v)}`);
  return p;
}

function expectNhwc(x: tf.Tensor, name: string, channels?: number): void {
  if (x.rank !== 4) throw new ShapeError(name, 'a rank-4 NHWC tensor [B, H, W, C]', `rank ${x.rank} [${x.shape}]`);
  if (channels !== undefined && x.shape[3] !== channels) throw new ShapeError(name, `${channels} channels (NHWC, last axis)`, `[${x.shape}]`);
}

// ------------------------------------------------------------------------------------------------
// Conv2d
// ------------------------------------------------------------------------------------------------

export interface Conv2dOptions {
  stride?: Pair;
  /** Zero padding on both sides of each spatial axis (torch `padding=int|(ph,pw)`), or 'same' / 'valid'. */
  padding?: Pair | 'same' | 'valid';
  dilation?: Pair;
  groups?: number;
  bias?: boolean;
  /** torch padding_mode: 'zeros' (default) or 'reflect'. */
  paddingMode?: 'zeros' | 'reflect';
  seed?: number;
}

export interface Conv2dConfig {
  stride: [number, number];
  /** [top, bottom, left, right] */
  pad: [number, number, number, number];
  dilation: [number, number];
  groups: number;
  paddingMode: 'zeros' | 'reflect';
}

/** Resolves torch-style options to explicit per-side padding (torch 'same': extra on bottom/right). */
export function resolveConv2dConfig(kernel: [number, number], opts: Omit<Conv2dOptions, 'bias' | 'seed'>, what = 'Conv2d'): Conv2dConfig {
  const stride = pair(opts.stride ?? 1, `${what} stride`);
  const dilation = pair(opts.dilation ?? 1, `${what} dilation`);
  if (stride[0] < 1 || stride[1] < 1 || dilation[0] < 1 || dilation[1] < 1) throw new ConfigError(what, `stride and dilation must be >= 1 (got stride ${stride}, dilation ${dilation})`);
  const groups = opts.groups ?? 1;
  if (!Number.isInteger(groups) || groups < 1) throw new ConfigError(what, `groups must be a positive integer, got ${groups}`);
  const paddingMode = opts.paddingMode ?? 'zeros';
  if (paddingMode !== 'zeros' && paddingMode !== 'reflect') throw new ConfigError(what, `padding_mode '${paddingMode}' is not supported (zeros, reflect)`);
  let pad: [number, number, number, number];
  const p = opts.padding ?? 0;
  if (p === 'valid') pad = [0, 0, 0, 0];
  else if (p === 'same') {
    if (stride[0] !== 1 || stride[1] !== 1) throw new ConfigError(what, "padding='same' is not supported for strided convolutions (as in torch)");
    const th = dilation[0] * (kernel[0] - 1);
    const tw = dilation[1] * (kernel[1] - 1);
    pad = [Math.floor(th / 2), th - Math.floor(th / 2), Math.floor(tw / 2), tw - Math.floor(tw / 2)];
  } else {
    const [ph, pw] = pair(p, `${what} padding`);
    pad = [ph, ph, pw, pw];
  }
  return { stride, pad, dilation, groups, paddingMode };
}

export class Conv2d extends Module {
  readonly weight: tf.Variable; // [kh, kw, in/groups, out] (HWIO)
  readonly bias: tf.Variable | null; // [out]
  readonly kernelSize: [number, number];
  readonly config: Conv2dConfig;
  constructor(readonly inChannels: number, readonly outChannels: number, kernelSize: Pair, opts: Conv2dOptions = {}) {
    super();
    this.kernelSize = pair(kernelSize, 'Conv2d kernel_size');
    this.config = resolveConv2dConfig(this.kernelSize, opts);
    const g = this.config.groups;
    if (inChannels % g || outChannels % g) throw new ConfigError('Conv2d', `in_channels (${inChannels}) and out_channels (${outChannels}) must be divisible by groups (${g})`);
    const [kh, kw] = this.kernelSize;
    const fanIn = (inChannels / g) * kh * kw;
    this.weight = this.addParameter('weight', [outChannels, inChannels / g, kh, kw], init.torchDefault(fanIn, opts.seed), 'conv2d');
    this.bias = opts.bias === false ? null : this.addParameter('bias', [outChannels], init.torchDefault(fanIn, opts.seed));
  }

  /** x: [B, H, W, in] -> [B, H', W', out] with H' = floor((H + pt + pb - d(k-1) - 1) / s) + 1. */
  forward(x: tf.Tensor): tf.Tensor {
    expectNhwc(x, `${this.typeName} input`, this.inChannels);
    return conv2dNhwc(x, this.weight, this.bias, this.config);
  }
}

/**
 * Torch-semantics 2-D convolution on NHWC input with an HWIO filter [kh, kw, in/groups, out].
 * Handles explicit asymmetric padding, reflect padding, stride together with dilation (which tfjs
 * refuses in one op) and grouped / depthwise convolution. `gradient: 'portable'` forces the
 * matmul-based gradient that 'auto' uses only where tfjs's gradient cannot: dilated convolutions,
 * and backends without the backprop kernels (wasm).
 */
export function conv2dNhwc(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor | null, cfg: Conv2dConfig, gradient: 'auto' | 'portable' = 'auto'): tf.Tensor {
  return tf.tidy(() => {
    const [kh, kw, inPerGroup, outC] = w.shape as [number, number, number, number];
    const { stride, dilation, groups } = cfg;
    let [pt, pb, pl, pr] = cfg.pad;
    let input = x as tf.Tensor4D;
    if (x.shape[3] !== inPerGroup * groups) throw new ShapeError('conv2d input', `${inPerGroup * groups} channels`, `[${x.shape}]`);
    if (cfg.paddingMode === 'reflect' && (pt || pb || pl || pr)) {
      input = tf.mirrorPad(input, [[0, 0], [pt, pb], [pl, pr], [0, 0]], 'reflect'); // [B, H+pt+pb, W+pl+pr, C]
      pt = pb = pl = pr = 0;
    }
    const effH = dilation[0] * (kh - 1) + 1;
    const effW = dilation[1] * (kw - 1) + 1;
    const H = input.shape[1] + pt + pb;
    const W = input.shape[2] + pl + pr;
    if (H < effH || W < effW) throw new ShapeError('conv2d input', `a padded size of at least ${effH}x${effW} for the kernel`, `${H}x${W} (input [${x.shape}])`);
    const pad: [[number, number], [number, number], [number, number], [number, number]] = [[0, 0], [pt, pb], [pl, pr], [0, 0]];
    const padArg = pt || pb || pl || pr ? pad : 'valid';
    // tfjs refuses stride > 1 together with dilation > 1: convolve densely, then subsample.
    const splitStride = (stride[0] > 1 || stride[1] > 1) && (dilation[0] > 1 || dilation[1] > 1);
    const s: [number, number] = splitStride ? [1, 1] : stride;
    const filter = w as tf.Tensor4D;
    const depthwise = groups > 1 && inPerGroup === 1 && groups === input.shape[3];
    const conv = (xi: tf.Tensor4D, wi: tf.Tensor4D, dw: boolean): tf.Tensor4D =>
      gradient === 'auto' && dilation[0] === 1 && dilation[1] === 1 && hasNativeConvGrads(dw) ? nativeConv(xi, wi, s, padArg, dilation, dw) : portableConv(xi, wi, s, [pt, pb, pl, pr], dilation, dw);
    let y: tf.Tensor4D;
    if (groups === 1 || depthwise) {
      // depthwise: output channel c*m + j reads input channel c, as torch orders grouped outputs
      y = conv(input, filter, depthwise); // [B, H', W', out]
    } else {
      const xs = tf.split(input, groups, 3); // groups x [B, H, W, in/g]
      const ws = tf.split(filter, groups, 3); // groups x [kh, kw, in/g, out/g]
      y = tf.concat(xs.map((xi, i) => conv(xi as tf.Tensor4D, ws[i] as tf.Tensor4D, false)), 3); // [B, H', W', out]
    }
    if (splitStride) {
      const oh = Math.floor((H - effH) / stride[0]) + 1;
      const ow = Math.floor((W - effW) / stride[1]) + 1;
      y = subsample(y, stride, oh, ow); // [B, oh, ow, out]
    }
    return b ? tf.add(y, b) : y;
  });
}

/** y[:, i*sh, j*sw, :] for i < oh, j < ow, with reshapes and slices (tfjs has no StridedSlice gradient). */
function subsample(y: tf.Tensor4D, s: [number, number], oh: number, ow: number): tf.Tensor4D {
  const fit = (t: tf.Tensor4D, axis: 1 | 2, len: number): tf.Tensor4D => {
    const have = t.shape[axis];
    if (have === len) return t;
    if (have > len) return tf.slice(t, [0, 0, 0, 0], axis === 1 ? [-1, len, -1, -1] : [-1, -1, len, -1]);
    const pad: Pad4 = [[0, 0], [0, 0], [0, 0], [0, 0]];
    pad[axis] = [0, len - have];
    return tf.pad(t, pad);
  };
  const [B, , , C] = y.shape;
  let r = fit(y, 1, oh * s[0]); // [B, oh*sh, W1, C]
  const W1 = r.shape[2];
  r = tf.reshape(tf.slice(tf.reshape(r, [B, oh, s[0], W1 * C]), [0, 0, 0, 0], [B, oh, 1, W1 * C]), [B, oh, W1, C]); // [B, oh, W1, C]
  r = fit(r, 2, ow * s[1]); // [B, oh, ow*sw, C]
  return tf.reshape(tf.slice(tf.reshape(r, [B * oh, ow, s[1], C]), [0, 0, 0, 0], [B * oh, ow, 1, C]), [B, oh, ow, C]); // [B, oh, ow, C]
}

type CustomGradFunc = Parameters<typeof tf.customGrad>[0];
type Pad4 = [[number, number], [number, number], [number, number], [number, number]];

function nativeConv(x: tf.Tensor4D, w: tf.Tensor4D, s: [number, number], pad: Pad4 | 'valid', dil: [number, number], depthwise: boolean): tf.Tensor4D {
  if (!depthwise) return tf.conv2d(x, w, s, pad, 'NHWC', dil); // [B, H', W', out]
  const [kh, kw, , outC] = w.shape;
  const C = x.shape[3];
  return tf.depthwiseConv2d(x, tf.reshape(w, [kh, kw, C, outC / C]) as tf.Tensor4D, s, pad, 'NHWC', dil); // [B, H', W', out]
}

/** Whether the active backend registers the kernels tfjs's conv gradients need (wasm lacks the filter ones). */
function hasNativeConvGrads(depthwise: boolean): boolean {
  const b = tf.getBackend();
  const names = depthwise ? ['DepthwiseConv2dNativeBackpropFilter', 'DepthwiseConv2dNativeBackpropInput'] : ['Conv2DBackpropFilter', 'Conv2DBackpropInput'];
  return names.every((n) => tf.getKernel(n, b) !== undefined);
}

/** xp[:, u + i*sh, v + j*sw, :] for i < oh, j < ow: one tap of every strided window. [B, oh, ow, C] */
function tap(xp: tf.Tensor4D, u: number, v: number, s: [number, number], oh: number, ow: number): tf.Tensor4D {
  const [B, , , C] = xp.shape;
  return tf.stridedSlice(xp, [0, u, v, 0], [B, u + (oh - 1) * s[0] + 1, v + (ow - 1) * s[1] + 1, C], [1, s[0], s[1], 1]) as tf.Tensor4D;
}

/** Inverse of tap: t [B, oh, ow, C] placed at (u + i*sh, v + j*sw) of a zero [B, Hp, Wp, C] grid. */
function untap(t: tf.Tensor4D, u: number, v: number, s: [number, number], Hp: number, Wp: number): tf.Tensor4D {
  const [B, oh, ow, C] = t.shape;
  let r: tf.Tensor = t;
  if (s[1] > 1) r = tf.reshape(tf.pad(tf.reshape(r, [B * oh, ow, 1, C]), [[0, 0], [0, 0], [0, s[1] - 1], [0, 0]]), [B, oh, ow * s[1], C]);
  if (s[0] > 1) r = tf.reshape(tf.pad(tf.reshape(r, [B, oh, 1, ow * s[1] * C]), [[0, 0], [0, 0], [0, s[0] - 1], [0, 0]]), [B, oh * s[0], ow * s[1], C]);
  const h = Math.min(r.shape[1]!, Hp - u);
  const w = Math.min(r.shape[2]!, Wp - v);
  if (h < r.shape[1]! || w < r.shape[2]!) r = tf.slice(r, [0, 0, 0, 0], [B, h, w, C]);
  return tf.pad(r, [[0, 0], [u, Hp - u - h], [v, Wp - v - w], [0, 0]]) as tf.Tensor4D; // [B, Hp, Wp, C]
}

/**
 * Convolution whose gradient is written with matmuls, slices and pads only: for dilated convolutions
 * (tfjs has no gradient for them) and backends that lack tfjs's conv backprop kernels (wasm has no
 * Conv2DBackpropFilter nor depthwise backprops).
 */
function portableConv(x: tf.Tensor4D, w: tf.Tensor4D, s: [number, number], pad: [number, number, number, number], dil: [number, number], depthwise: boolean): tf.Tensor4D {
  const [pt, pb, pl, pr] = pad;
  const op = tf.customGrad(((xIn: tf.Tensor, wIn: tf.Tensor, save: tf.GradSaveFunc) => {
    const xp = (pt || pb || pl || pr ? tf.pad(xIn, [[0, 0], [pt, pb], [pl, pr], [0, 0]]) : xIn) as tf.Tensor4D; // [B, Hp, Wp, C]
    save([xp, wIn]);
    return {
      value: nativeConv(xp, wIn as tf.Tensor4D, s, 'valid', dil, depthwise), // [B, oh, ow, out]
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ws] = saved as [tf.Tensor4D, tf.Tensor4D];
        const [kh, kw, cin, cout] = ws.shape;
        const [B, Hp, Wp, C] = xs.shape;
        const [, oh, ow] = dy.shape as number[];
        const n = B * oh * ow;
        const mult = cout / C;
        const dy2 = depthwise ? tf.reshape(dy, [n, C, mult]) : tf.reshape(dy, [n, cout]); // [N, C, m] | [N, out]
        let dxp: tf.Tensor = tf.zeros([B, Hp, Wp, C]);
        const dws: tf.Tensor[] = [];
        for (let u = 0; u < kh; u++) {
          for (let v = 0; v < kw; v++) {
            const t = tap(xs, u * dil[0], v * dil[1], s, oh, ow); // [B, oh, ow, C]
            const wuv = tf.reshape(tf.slice(ws, [u, v, 0, 0], [1, 1, cin, cout]), depthwise ? [1, C, mult] : [cin, cout]);
            let dt: tf.Tensor;
            if (depthwise) {
              dws.push(tf.reshape(tf.sum(tf.mul(tf.reshape(t, [n, C, 1]), dy2), 0), [1, cout])); // [1, out]
              dt = tf.sum(tf.mul(dy2, wuv), 2); // [N, C]
            } else {
              dws.push(tf.matMul(tf.reshape(t, [n, cin]), dy2, true, false)); // [in, out]
              dt = tf.matMul(dy2, wuv, false, true); // [N, in]
            }
            dxp = tf.add(dxp, untap(tf.reshape(dt, [B, oh, ow, C]) as tf.Tensor4D, u * dil[0], v * dil[1], s, Hp, Wp));
          }
        }
        const dx = tf.slice(dxp, [0, pt, pl, 0], [B, Hp - pt - pb, Wp - pl - pr, C]); // [B, H, W, C]
        return [dx, tf.reshape(stackMany(dws), ws.shape)];
      },
    };
  }) as unknown as CustomGradFunc);
  return op(x, w) as tf.Tensor4D;
}

// ------------------------------------------------------------------------------------------------
// BatchNorm2d
// ------------------------------------------------------------------------------------------------

export interface BatchNormOptions {
  eps?: number;
  /** Running-statistics momentum (torch default 0.1); null = cumulative moving average. */
  momentum?: number | null;
  affine?: boolean;
  trackRunningStats?: boolean;
}

export class BatchNorm2d extends Module {
  readonly eps: number;
  readonly momentum: number | null;
  readonly weight: tf.Variable | null; // [C]
  readonly bias: tf.Variable | null; // [C]
  readonly trackRunningStats: boolean;
  constructor(readonly numFeatures: number, opts: BatchNormOptions = {}) {
    super();
    this.eps = opts.eps ?? 1e-5;
    this.momentum = opts.momentum === undefined ? 0.1 : opts.momentum;
    const affine = opts.affine ?? true;
    this.trackRunningStats = opts.trackRunningStats ?? true;
    this.weight = affine ? this.addParameter('weight', [numFeatures], init.ones()) : null;
    this.bias = affine ? this.addParameter('bias', [numFeatures], init.zeros()) : null;
    if (this.trackRunningStats) {
      this.addBuffer('running_mean', tf.zeros([numFeatures]));
      this.addBuffer('running_var', tf.ones([numFeatures]));
      this.addBuffer('num_batches_tracked', tf.scalar(0, 'int32'));
    }
  }

  get runningMean(): tf.Tensor | null {
    return this.trackRunningStats ? this.getBuffer('running_mean') : null;
  }
  get runningVar(): tf.Tensor | null {
    return this.trackRunningStats ? this.getBuffer('running_var') : null;
  }
  get numBatchesTracked(): tf.Tensor | null {
    return this.trackRunningStats ? this.getBuffer('num_batches_tracked') : null;
  }

  /**
   * x: [B, H, W, C] -> [B, H, W, C]. Eval mode (or no running stats tracked = false): normalise with
   * the running statistics. Training mode: normalise with the batch's biased variance and update the
   * running statistics with the unbiased one, as torch does.
   */
  forward(x: tf.Tensor): tf.Tensor {
    expectNhwc(x, `${this.typeName} input`, this.numFeatures);
    const useBatchStats = this.training || !this.trackRunningStats;
    if (!useBatchStats) return batchNormNhwc(x, this.runningMean!, this.runningVar!, this.weight, this.bias, this.eps);
    const n = x.shape[0]! * x.shape[1]! * x.shape[2]!;
    if (n < 2 && this.training) throw new ShapeError(`${this.typeName} input`, 'more than 1 value per channel when training', `[${x.shape}]`);
    return tf.tidy(() => {
      const { mean, variance } = tf.moments(x, [0, 1, 2]); // [C], [C] (biased)
      if (this.training && this.trackRunningStats) this.updateRunningStats(mean, variance, n);
      return batchNormNhwc(x, mean, variance, this.weight, this.bias, this.eps);
    });
  }

  private updateRunningStats(mean: tf.Tensor, biasedVar: tf.Tensor, n: number): void {
    const count = this.getBuffer('num_batches_tracked');
    const steps = tf.add(count, tf.scalar(1, 'int32'));
    // momentum=null: cumulative average, factor 1/num_batches_tracked (read asynchronously is not
    // possible in a sync forward, so it is computed on the tensor)
    const factor = this.momentum === null ? tf.div(1, tf.cast(steps, 'float32')) : tf.scalar(this.momentum);
    const keep = tf.sub(1, factor);
    const unbiased = tf.mul(biasedVar, n / (n - 1));
    this.setBuffer('running_mean', tf.add(tf.mul(this.getBuffer('running_mean'), keep), tf.mul(mean, factor)));
    this.setBuffer('running_var', tf.add(tf.mul(this.getBuffer('running_var'), keep), tf.mul(unbiased, factor)));
    this.setBuffer('num_batches_tracked', steps);
  }
}

/** (x - mean) / sqrt(var + eps) * w + b over the channel axis of NHWC x. */
export function batchNormNhwc(x: tf.Tensor, mean: tf.Tensor, variance: tf.Tensor, w: tf.Tensor | null, b: tf.Tensor | null, eps: number): tf.Tensor {
  return tf.tidy(() => {
    let scale = tf.rsqrt(tf.add(variance, eps)); // [C]
    if (w) scale = tf.mul(scale, w);
    let shift = tf.neg(tf.mul(mean, scale)); // [C]
    if (b) shift = tf.add(shift, b);
    return tf.add(tf.mul(x, scale), shift); // [B, H, W, C]
  });
}

/**
 * A view of `store` that supplies `num_batches_tracked` (0) for every BatchNorm2d of `module` whose
 * counter the checkpoint lacks, as torch's BatchNorm loading does for older checkpoints (e.g.
 * converted Inception weights). Use with strict loading: `module.loadStateDict(withBatchNormCounters(store, module))`.
 */
export function withBatchNormCounters(store: TensorStore, module: Module, prefix = ''): TensorStore {
  const have = new Set(store.keys());
  const added = module.namedModules()
    .filter(([, m]) => m instanceof BatchNorm2d && m.trackRunningStats)
    .map(([name]) => `${prefix}${name ? `${name}.` : ''}num_batches_tracked`)
    .filter((k) => !have.has(k));
  if (!added.length) return store;
  const extra = new Set(added);
  return {
    source: store.source,
    keys: () => [...store.keys(), ...added],
    info: (key: string): TensorInfo | undefined => (extra.has(key) ? { dtype: 'I64', shape: [] } : store.info(key)),
    read: async (key: string): Promise<TypedArray> => (extra.has(key) ? new BigInt64Array(1) : store.read(key)),
    close: () => store.close?.(),
  };
}

// ------------------------------------------------------------------------------------------------
// Pooling
// ------------------------------------------------------------------------------------------------

export interface Pool2dOptions {
  /** Default: the kernel size (torch). */
  stride?: Pair;
  padding?: Pair;
  ceilMode?: boolean;
}

export interface AvgPool2dOptions extends Pool2dOptions {
  /** Count the zero padding in the divisor (torch default true). */
  countIncludePad?: boolean;
  divisorOverride?: number;
}

interface PoolGeometry {
  k: [number, number];
  s: [number, number];
  p: [number, number];
  out: [number, number];
  /** Extra bottom/right padding so that 'valid' pooling of the padded input gives `out` windows. */
  extra: [number, number];
}

/** torch pooling output size: floor/ceil((L + 2p - k) / s) + 1, last window must start inside input + left pad. */
function poolGeometry(inH: number, inW: number, kernel: Pair, opts: Pool2dOptions, what: string): PoolGeometry {
  const k = pair(kernel, `${what} kernel_size`);
  const s = pair(opts.stride ?? k, `${what} stride`);
  const p = pair(opts.padding ?? 0, `${what} padding`);
  if (k[0] < 1 || k[1] < 1 || s[0] < 1 || s[1] < 1) throw new ConfigError(what, `kernel_size and stride must be >= 1 (got ${k}, ${s})`);
  if (p[0] * 2 > k[0] || p[1] * 2 > k[1]) throw new ConfigError(what, `padding (${p}) should be at most half of the kernel size (${k}), as torch requires`);
  const size = (L: number, kk: number, ss: number, pp: number) => {
    const span = L + 2 * pp - kk;
    if (span < 0) throw new ShapeError(`${what} input`, `a padded size of at least ${kk}`, `${L} (+2x${pp} padding)`);
    let o = (opts.ceilMode ? Math.ceil(span / ss) : Math.floor(span / ss)) + 1;
    if (opts.ceilMode && (o - 1) * ss >= L + pp) o--;
    return o;
  };
  const out: [number, number] = [size(inH, k[0], s[0], p[0]), size(inW, k[1], s[1], p[1])];
  const extra: [number, number] = [
    Math.max(0, (out[0] - 1) * s[0] + k[0] - (inH + 2 * p[0])),
    Math.max(0, (out[1] - 1) * s[1] + k[1] - (inW + 2 * p[1])),
  ];
  return { k, s, p, out, extra };
}

/**
 * torch max_pool2d on NHWC (padding never wins: it is -inf). x: [B, H, W, C] -> [B, oh, ow, C].
 * The gradient goes to the first maximum of each window in scan order, as torch's; it is written
 * with slices and pads (tfjs-backend-wasm 4.22's MaxPoolGrad returns wrong values for 2x2/stride-2).
 */
export function maxPool2dNhwc(x: tf.Tensor, kernel: Pair, opts: Pool2dOptions = {}): tf.Tensor {
  expectNhwc(x, 'maxPool2d input');
  const g = poolGeometry(x.shape[1]!, x.shape[2]!, kernel, opts, 'MaxPool2d');
  const [pt, pl] = g.p;
  const [pb, pr] = [g.p[0] + g.extra[0], g.p[1] + g.extra[1]];
  const op = tf.customGrad(((xIn: tf.Tensor, save: tf.GradSaveFunc) => {
    const xp = (pt || pb || pl || pr ? tf.pad(xIn, [[0, 0], [pt, pb], [pl, pr], [0, 0]], -3.4028234663852886e38) : xIn) as tf.Tensor4D; // [B, Hp, Wp, C]
    const y = tf.maxPool(xp, g.k, g.s, 'valid'); // [B, oh, ow, C]
    save([xp, y]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ys] = saved as [tf.Tensor4D, tf.Tensor4D];
        const [B, Hp, Wp, C] = xs.shape;
        const [, oh, ow] = ys.shape;
        let taken: tf.Tensor = tf.zerosLike(ys);
        let dxp: tf.Tensor = tf.zeros(xs.shape);
        for (let u = 0; u < g.k[0]; u++) {
          for (let v = 0; v < g.k[1]; v++) {
            const hit = tf.mul(tf.cast(tf.equal(tap(xs, u, v, g.s, oh, ow), ys), 'float32'), tf.sub(1, taken)); // [B, oh, ow, C]
            taken = tf.add(taken, hit);
            dxp = tf.add(dxp, untap(tf.mul(hit, dy) as tf.Tensor4D, u, v, g.s, Hp, Wp));
          }
        }
        return tf.slice(dxp, [0, pt, pl, 0], [B, Hp - pt - pb, Wp - pl - pr, C]); // [B, H, W, C]
      },
    };
  }) as unknown as CustomGradFunc);
  return tf.tidy(() => op(x));
}

/** torch avg_pool2d on NHWC with count_include_pad / divisor_override. x: [B, H, W, C] -> [B, oh, ow, C]. */
export function avgPool2dNhwc(x: tf.Tensor, kernel: Pair, opts: AvgPool2dOptions = {}): tf.Tensor {
  expectNhwc(x, 'avgPool2d input');
  const [H, W] = [x.shape[1]!, x.shape[2]!];
  const g = poolGeometry(H, W, kernel, opts, 'AvgPool2d');
  const countIncludePad = opts.countIncludePad ?? true;
  // torch's divisor per output position: the window clipped to the padded input (count_include_pad)
  // or to the input itself; divisor_override replaces both.
  const divisor = new Float32Array(g.out[0] * g.out[1]);
  let uniform = true;
  const area = g.k[0] * g.k[1];
  for (let i = 0; i < g.out[0]; i++) {
    for (let j = 0; j < g.out[1]; j++) {
      let h0 = i * g.s[0] - g.p[0], w0 = j * g.s[1] - g.p[1];
      let h1 = Math.min(h0 + g.k[0], H + g.p[0]), w1 = Math.min(w0 + g.k[1], W + g.p[1]);
      const padded = (h1 - h0) * (w1 - w0);
      h0 = Math.max(h0, 0); w0 = Math.max(w0, 0);
      h1 = Math.min(h1, H); w1 = Math.min(w1, W);
      const d = opts.divisorOverride ?? (countIncludePad ? padded : (h1 - h0) * (w1 - w0));
      divisor[i * g.out[1] + j] = d;
      if (d !== area) uniform = false;
    }
  }
  return tf.tidy(() => {
    const needsPad = g.p[0] || g.p[1] || g.extra[0] || g.extra[1];
    const input = needsPad ? tf.pad(x, [[0, 0], [g.p[0], g.p[0] + g.extra[0]], [g.p[1], g.p[1] + g.extra[1]], [0, 0]]) : x; // zeros
    const mean = tf.avgPool(input as tf.Tensor4D, g.k, g.s, 'valid'); // [B, oh, ow, C], sum / (kh*kw)
    if (uniform) return mean;
    const factor = tf.tensor4d(divisor.map((d) => area / d), [1, g.out[0], g.out[1], 1]);
    return tf.mul(mean, factor); // sum / divisor
  });
}

export class MaxPool2d extends Module {
  constructor(readonly kernelSize: Pair, readonly options: Pool2dOptions = {}) {
    super();
  }
  /** x: [B, H, W, C] -> [B, oh, ow, C] */
  forward(x: tf.Tensor): tf.Tensor {
    return maxPool2dNhwc(x, this.kernelSize, this.options);
  }
}

export class AvgPool2d extends Module {
  constructor(readonly kernelSize: Pair, readonly options: AvgPool2dOptions = {}) {
    super();
  }
  /** x: [B, H, W, C] -> [B, oh, ow, C] */
  forward(x: tf.Tensor): tf.Tensor {
    return avgPool2dNhwc(x, this.kernelSize, this.options);
  }
}

/** Global average over H and W (torch adaptive_avg_pool2d to 1x1, flattened). x: [B, H, W, C] -> [B, C]. */
export function globalAvgPool2d(x: tf.Tensor): tf.Tensor {
  expectNhwc(x, 'globalAvgPool2d input');
  return tf.tidy(() => tf.mean(x, [1, 2])); // [B, C]
}

import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { describeBackends, expectClose, expectNoLeaks, ref64, ref64conv } from '@fae/testing';
import {
  AvgPool2d, BatchNorm2d, ConfigError, Conv2d, MaxPool2d, MemoryTensorStore, Module, ShapeError, StateDictError,
  avgPool2dNhwc, conv2dNhwc, globalAvgPool2d, maxPool2dNhwc, resolveConv2dConfig, withBatchNormCounters,
  type Conv2dOptions,
} from '@fae/core';

const t = ref64.toTensor;

interface ConvCase {
  name: string;
  cin: number;
  cout: number;
  k: [number, number];
  opts: Conv2dOptions;
  hw: [number, number];
}

const CONV_CASES: ConvCase[] = [
  { name: '3x3 pad 1', cin: 3, cout: 4, k: [3, 3], opts: { padding: 1 }, hw: [6, 5] },
  { name: '1x7 pad (0,3)', cin: 2, cout: 3, k: [1, 7], opts: { padding: [0, 3] }, hw: [5, 8] },
  { name: '3x3 stride 2 no pad', cin: 3, cout: 2, k: [3, 3], opts: { stride: 2 }, hw: [9, 8] },
  { name: 'stride 2 + dilation 2 + pad 2', cin: 2, cout: 3, k: [3, 3], opts: { stride: 2, dilation: 2, padding: 2 }, hw: [9, 10] },
  { name: 'groups 2, stride (1,2)', cin: 4, cout: 6, k: [3, 2], opts: { groups: 2, stride: [1, 2], padding: [1, 0] }, hw: [5, 7] },
  { name: 'depthwise x2, pad 1', cin: 3, cout: 6, k: [3, 3], opts: { groups: 3, padding: 1 }, hw: [5, 6] },
  { name: "'same' even kernel, dilation 2", cin: 2, cout: 2, k: [4, 3], opts: { padding: 'same', dilation: [2, 1] }, hw: [7, 6] },
  { name: 'reflect padding, no bias', cin: 2, cout: 3, k: [3, 3], opts: { padding: [2, 1], paddingMode: 'reflect', bias: false }, hw: [5, 6] },
];

describeBackends('Conv2d', () => {
  for (const c of CONV_CASES) {
    it(`matches torch conv2d (float64 reference): ${c.name}`, async () => {
      const conv = new Conv2d(c.cin, c.cout, c.k, c.opts);
      const groups = c.opts.groups ?? 1;
      const w = ref64.randomNd([c.cout, c.cin / groups, c.k[0], c.k[1]], 11);
      const b = c.opts.bias === false ? null : ref64.randomNd([c.cout], 12);
      await conv.loadStateDict(b ? { weight: t(w), bias: t(b) } : { weight: t(w) });
      expect(conv.weight.shape).toEqual([c.k[0], c.k[1], c.cin / groups, c.cout]); // HWIO inside
      const x = ref64.randomNd([2, c.hw[0], c.hw[1], c.cin], 13);
      const xt = t(x);
      const y = await expectNoLeaks(() => conv.forward(xt));
      const cfg = resolveConv2dConfig(c.k, c.opts);
      const ref = ref64conv.conv2d(x, w, b, { stride: cfg.stride, pad: cfg.pad, dilation: cfg.dilation, groups, paddingMode: cfg.paddingMode });
      expect(y.shape).toEqual(ref.shape);
      await expectClose(y, ref.data, 1e-5);
      tf.dispose([xt, y]);
      conv.dispose();
    });
  }

  it('state dict is in PyTorch layout (OIHW) and round-trips', async () => {
    const conv = new Conv2d(3, 5, [2, 3], { seed: 3 });
    const sd = await conv.stateDict();
    expect(sd.get('weight')!.shape).toEqual([5, 3, 2, 3]);
    expect(sd.get('bias')!.shape).toEqual([5]);
    const other = new Conv2d(3, 5, [2, 3]);
    await other.loadStateDict(new MemoryTensorStore(Object.fromEntries([...sd].map(([k, v]) => [k, { shape: v.shape, data: v.data }]))));
    expect(Array.from(await other.weight.data())).toEqual(Array.from(await conv.weight.data()));
    expect(conv.parameterCount()).toBe(5 * 3 * 2 * 3 + 5);
    conv.dispose();
    other.dispose();
  });

  const GRAD_CASES: Array<{ name: string; cin: number; cout: number; k: [number, number]; opts: Conv2dOptions; hw: [number, number] }> = [
    { name: 'pad (1,0)', cin: 2, cout: 3, k: [3, 3], opts: { padding: [1, 0] }, hw: [5, 4] },
    { name: 'stride 2, pad 1', cin: 2, cout: 2, k: [3, 2], opts: { stride: 2, padding: 1 }, hw: [6, 5] },
    { name: 'dilation 2, stride 2', cin: 1, cout: 2, k: [2, 2], opts: { dilation: 2, stride: 2, padding: [1, 0] }, hw: [6, 6] },
    { name: 'depthwise x2, stride (1,2)', cin: 2, cout: 4, k: [3, 3], opts: { groups: 2, stride: [1, 2], padding: 1 }, hw: [4, 5] },
  ];
  for (const c of GRAD_CASES) {
    for (const gradient of ['auto', 'portable'] as const) {
      it(`gradients w.r.t. input and weight match float64 central differences: ${c.name} (${gradient})`, async () => {
        const groups = c.opts.groups ?? 1;
        const cfg = resolveConv2dConfig(c.k, c.opts);
        const refOpts = { stride: cfg.stride, pad: cfg.pad, dilation: cfg.dilation, groups };
        const x = ref64.randomNd([1, c.hw[0], c.hw[1], c.cin], 21);
        const w = ref64.randomNd([c.cout, c.cin / groups, c.k[0], c.k[1]], 22, 0.5);
        const yShape = ref64conv.conv2d(x, w, null, refOpts).shape;
        const r = ref64.randomNd(yShape, 23); // upstream weights of the scalar loss
        const lossRef = (xv: Float64Array, wv: Float64Array) =>
          ref64conv.conv2d(ref64.nd(x.shape, xv), ref64.nd(w.shape, wv), null, refOpts).data.reduce((s, v, i) => s + v * r.data[i], 0);
        const gxRef = ref64conv.finiteDifferenceGrad((xv) => lossRef(xv, w.data), x.data);
        const gwRef = ref64conv.finiteDifferenceGrad((wv) => lossRef(x.data, wv), w.data);
        const wHwio = tf.tidy(() => tf.transpose(t(w), [2, 3, 1, 0]));
        const [xt, rt] = [t(x), t(r)];
        const grads = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(conv2dNhwc(a, b, null, cfg, gradient), rt)));
        const [gx, gw] = await expectNoLeaks(() => grads([xt, wHwio]), 'conv grads');
        await expectClose(gx, gxRef, 1e-4, 'dL/dx');
        const gwTorch = tf.transpose(gw, [3, 2, 0, 1]);
        await expectClose(gwTorch, gwRef, 1e-4, 'dL/dw');
        tf.dispose([wHwio, xt, rt, gx, gw, gwTorch]);
      });
    }
  }

  it('rejects wrong input channels and strided same padding with typed errors', () => {
    const conv = new Conv2d(3, 4, 3);
    const x = tf.zeros([1, 5, 5, 2]);
    expect(() => conv.forward(x)).toThrow(ShapeError);
    expect(() => new Conv2d(3, 4, 3, { padding: 'same', stride: 2 })).toThrow(ConfigError);
    expect(() => new Conv2d(3, 4, 3, { groups: 2 })).toThrow(ConfigError);
    x.dispose();
    conv.dispose();
  });
});

describeBackends('BatchNorm2d', () => {
  it('eval mode uses the running statistics (float64 reference) and has torch keys', async () => {
    const C = 5;
    const bn = new BatchNorm2d(C, { eps: 1e-3 });
    expect(bn.namedParameters().map(([k]) => k)).toEqual(['weight', 'bias']);
    expect(bn.namedBuffers().map(([k]) => k)).toEqual(['running_mean', 'running_var', 'num_batches_tracked']);
    const w = ref64.randomNd([C], 1), b = ref64.randomNd([C], 2), m = ref64.randomNd([C], 3);
    const v = ref64.map(ref64.randomNd([C], 4), (x) => 1 + 0.5 * x);
    await bn.loadStateDict({ weight: t(w), bias: t(b), running_mean: t(m), running_var: t(v), num_batches_tracked: tf.scalar(7, 'int32') });
    bn.eval();
    const x = ref64.randomNd([2, 3, 4, C], 5, 2);
    const xt = t(x);
    const y = await expectNoLeaks(() => bn.forward(xt));
    await expectClose(y, ref64conv.batchNorm(x, m.data, v.data, w.data, b.data, 1e-3).data, 1e-5);
    const sd = await bn.stateDict();
    expect(Array.from(sd.get('num_batches_tracked')!.data)).toEqual([7]);
    expect(sd.get('num_batches_tracked')!.shape).toEqual([]);
    tf.dispose([xt, y]);
    bn.dispose();
  });

  it('training mode normalises with batch statistics and updates running stats like torch', async () => {
    const C = 3;
    const x = ref64.randomNd([2, 3, 2, C], 7, 2);
    const { mean, biased, unbiased } = ref64conv.channelMoments(x);
    for (const momentum of [0.1, null]) {
      const bn = new BatchNorm2d(C, { momentum });
      bn.train();
      const xt = t(x);
      const y = await expectNoLeaks(() => bn.forward(xt));
      await expectClose(y, ref64conv.batchNorm(x, mean, biased, null, null, 1e-5).data, 1e-5, 'train output');
      const f = momentum ?? 1; // cumulative average: first step has factor 1/1
      await expectClose(bn.runningMean!, Array.from(mean, (mu) => (1 - f) * 0 + f * mu), 1e-5, 'running_mean');
      await expectClose(bn.runningVar!, Array.from(unbiased, (s) => (1 - f) * 1 + f * s), 1e-5, 'running_var');
      expect(Array.from(await bn.numBatchesTracked!.data())).toEqual([1]);
      tf.dispose([xt, y]);
      bn.dispose();
    }
  });

  it('withBatchNormCounters lets strict loading accept checkpoints without num_batches_tracked', async () => {
    class Block extends Module {
      readonly conv = this.addModule('conv', new Conv2d(2, 3, 1, { bias: false }));
      readonly bn = this.addModule('bn', new BatchNorm2d(3));
    }
    const block = new Block();
    const sd = await block.stateDict();
    sd.delete('bn.num_batches_tracked');
    const store = new MemoryTensorStore(Object.fromEntries([...sd].map(([k, v]) => [k, { shape: v.shape, data: v.data }])), 'old.pth');
    await expect(block.loadStateDict(store)).rejects.toBeInstanceOf(StateDictError);
    const report = await block.loadStateDict(withBatchNormCounters(store, block));
    expect(report.loaded).toContain('bn.num_batches_tracked');
    block.dispose();
  });
});

interface PoolCase {
  name: string;
  kind: 'max' | 'avg';
  opts: ref64conv.PoolRefOptions;
  hw: [number, number];
}

const POOL_CASES: PoolCase[] = [
  { name: 'max 3x3 s2', kind: 'max', opts: { kernel: [3, 3], stride: [2, 2] }, hw: [9, 8] },
  { name: 'max 3x3 s1 pad 1 (padding is -inf)', kind: 'max', opts: { kernel: [3, 3], stride: [1, 1], padding: [1, 1] }, hw: [5, 6] },
  { name: 'max 2x2 ceil_mode', kind: 'max', opts: { kernel: [2, 2], ceilMode: true }, hw: [5, 7] },
  { name: 'max 3x2 s(2,1) pad(1,1) ceil', kind: 'max', opts: { kernel: [3, 2], stride: [2, 1], padding: [1, 1], ceilMode: true }, hw: [6, 5] },
  { name: 'avg 3x3 s1 pad 1 count_include_pad=False (Inception)', kind: 'avg', opts: { kernel: [3, 3], stride: [1, 1], padding: [1, 1], countIncludePad: false }, hw: [5, 6] },
  { name: 'avg 3x3 s1 pad 1 count_include_pad=True', kind: 'avg', opts: { kernel: [3, 3], stride: [1, 1], padding: [1, 1] }, hw: [5, 6] },
  { name: 'avg 3x3 s2 pad 1 ceil_mode', kind: 'avg', opts: { kernel: [3, 3], stride: [2, 2], padding: [1, 1], ceilMode: true }, hw: [6, 8] },
  { name: 'avg 2x2 ceil, count_include_pad=False', kind: 'avg', opts: { kernel: [2, 2], ceilMode: true, countIncludePad: false }, hw: [5, 5] },
  { name: 'avg 2x3 divisor_override 4', kind: 'avg', opts: { kernel: [2, 3], stride: [1, 2], padding: [1, 1], divisorOverride: 4 }, hw: [4, 6] },
];

describeBackends('pooling', () => {
  for (const c of POOL_CASES) {
    it(`matches torch ${c.name} (float64 reference)`, async () => {
      // all-negative input: zero padding in a max pool would show up
      const x = ref64.map(ref64.randomNd([2, c.hw[0], c.hw[1], 3], 31), (v) => (c.kind === 'max' ? v - 2 : v));
      const xt = t(x);
      const o = { stride: c.opts.stride, padding: c.opts.padding, ceilMode: c.opts.ceilMode };
      const y = await expectNoLeaks(() =>
        c.kind === 'max'
          ? new MaxPool2d(c.opts.kernel, o).forward(xt)
          : new AvgPool2d(c.opts.kernel, { ...o, countIncludePad: c.opts.countIncludePad, divisorOverride: c.opts.divisorOverride }).forward(xt));
      const ref = ref64conv.pool2d(x, c.kind, c.opts);
      expect(y.shape).toEqual(ref.shape);
      await expectClose(y, ref.data, 1e-6);
      tf.dispose([xt, y]);
    });
  }

  it('pool gradients match float64 central differences', async () => {
    const x = ref64.randomNd([1, 5, 4, 2], 41);
    const r = ref64.randomNd([1, 5, 4, 2], 42);
    const xt = t(x);
    const rt = t(r);
    const avgOpts: ref64conv.PoolRefOptions = { kernel: [3, 3], stride: [1, 1], padding: [1, 1], countIncludePad: false };
    const maxOpts: ref64conv.PoolRefOptions = { kernel: [3, 3], stride: [1, 1], padding: [1, 1] };
    for (const [kind, opts] of [['avg', avgOpts], ['max', maxOpts]] as const) {
      const f = (a: tf.Tensor) => {
        const o = { stride: opts.stride, padding: opts.padding, countIncludePad: opts.countIncludePad };
        const y = kind === 'avg' ? avgPool2dNhwc(a, opts.kernel, o) : maxPool2dNhwc(a, opts.kernel, o);
        return tf.sum(tf.mul(y, rt));
      };
      const g = await expectNoLeaks(() => tf.grad(f)(xt), `${kind} pool grad`);
      const ref = ref64conv.finiteDifferenceGrad((xv) => ref64conv.pool2d(ref64.nd(x.shape, xv), kind, opts).data.reduce((s, v, i) => s + v * r.data[i], 0), x.data, 1e-7);
      await expectClose(g, ref, 1e-4, `${kind} pool grad`);
      g.dispose();
    }
    tf.dispose([xt, rt]);
  });

  it('global average pool is the spatial mean', async () => {
    const x = ref64.randomNd([2, 3, 4, 5], 51);
    const xt = t(x);
    const y = await expectNoLeaks(() => globalAvgPool2d(xt));
    const ref = new Float64Array(10);
    for (let i = 0; i < x.data.length; i++) ref[Math.floor(i / 60) * 5 + (i % 5)] += x.data[i] / 12;
    await expectClose(y, ref, 1e-6);
    tf.dispose([xt, y]);
  });
});

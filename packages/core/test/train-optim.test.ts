// AdamW, LR schedules, grad-norm clipping, EMA, gradient accumulation and the NaN/Inf guard, each
// against a float64 reference of the PyTorch algorithm.
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { describeBackends, expectClose, expectNoLeaks, ref64, ref64train } from '@fae/testing';
import {
  AdamW, EMA, GradAccumulator, Linear, NonFiniteError, ConfigError, ShapeError, assertFinite, clipGradNorm, globalGradNorm, computeGrads,
  constantSchedule, cosineSchedule, linearSchedule,
} from '@fae/core';

function variable(shape: number[], seed: number): tf.Variable {
  const t = ref64.toTensor(ref64.randomNd(shape, seed));
  const v = tf.variable(t, true);
  t.dispose();
  return v;
}

describeBackends('AdamW', () => {
  it('matches torch.optim.AdamW (float64 reference) over 6 steps with per-name decay, varying lr and a skipped gradient', async () => {
    const params = new Map([['w', variable([3, 2], 1)], ['b', variable([2], 2)]]);
    const refs = new Map<string, ref64train.AdamWRefState>();
    for (const [k, v] of params) refs.set(k, ref64train.adamwRefInit(await v.data()));
    const decay = (name: string) => (name === 'w' ? 0.1 : 0);
    const opt = new AdamW(params, { lr: 0.05, betas: [0.9, 0.98], eps: 1e-6, weightDecay: decay });
    for (let step = 0; step < 6; step++) {
      const lr = 0.05 * (1 - step / 10);
      const grads = new Map<string, tf.Tensor>();
      for (const [k, v] of params) {
        if (k === 'b' && step === 3) continue; // no gradient: torch skips it (its step count stays)
        const g = ref64.randomNd(v.shape, 100 + step * 7 + (k === 'w' ? 0 : 1), 2);
        grads.set(k, ref64.toTensor(g));
        ref64train.adamwRefStep(refs.get(k)!, g.data, { lr, beta1: 0.9, beta2: 0.98, eps: 1e-6, weightDecay: decay(k) });
      }
      if (step === 0) opt.step(grads, { lr }); // creates the moment slots (kept by the optimizer)
      else await expectNoLeaks(() => opt.step(grads, { lr }), 'AdamW.step');
      tf.dispose([...grads.values()]);
    }
    expect(opt.stepOf('w')).toBe(6);
    expect(opt.stepOf('b')).toBe(5);
    for (const [k, v] of params) await expectClose(v, refs.get(k)!.p, 1e-5, k);
    opt.dispose();
    tf.dispose([...params.values()]);
  });

  it('exported state resumes exactly (a fresh optimizer continues bit-identically)', async () => {
    const a = new Map([['w', variable([4], 3)]]);
    const b = new Map([['w', variable([4], 3)]]);
    const optA = new AdamW(a, { lr: 0.1, weightDecay: 0.05 });
    const grad = (s: number) => new Map([['w', ref64.toTensor(ref64.randomNd([4], 50 + s))]]);
    for (let s = 0; s < 3; s++) {
      const g = grad(s);
      optA.step(g);
      tf.dispose([...g.values()]);
    }
    b.get('w')!.assign(a.get('w')!);
    const state = await optA.exportState();
    const optB = new AdamW(b, { lr: 0.5, weightDecay: 0.05 });
    optB.importState({ tensors: state.tensors, json: JSON.parse(JSON.stringify(state.json)) }); // the JSON part goes through a file
    expect(optB.lr).toBe(0.1);
    for (let s = 3; s < 6; s++) {
      for (const opt of [optA, optB]) {
        const g = grad(s);
        opt.step(g);
        tf.dispose([...g.values()]);
      }
    }
    expect(Array.from(await b.get('w')!.data())).toEqual(Array.from(await a.get('w')!.data()));
    expect(() => optB.step(new Map([['nope', tf.zeros([4])]]))).toThrow(ConfigError);
    expect(() => optB.step(new Map([['w', tf.zeros([5])]]))).toThrow(ShapeError);
    optA.dispose();
    optB.dispose();
    tf.dispose([...a.values(), ...b.values()]);
  });
});

describe('LR schedules', () => {
  it('constant with warm-up, cosine and linear decay to a floor', () => {
    const c = constantSchedule({ lr: 1, warmupSteps: 4 });
    expect([0, 1, 2, 3, 4, 100].map(c)).toEqual([0.25, 0.5, 0.75, 1, 1, 1]);
    expect(constantSchedule(3e-4)(0)).toBe(3e-4);
    const cos = cosineSchedule({ lr: 1e-4, warmupSteps: 10, totalSteps: 110, minLr: 1e-5 });
    expect(cos(0)).toBeCloseTo(1e-5, 15);
    expect(cos(9)).toBeCloseTo(1e-4, 15);
    expect(cos(10)).toBeCloseTo(1e-4, 15);
    expect(cos(60)).toBeCloseTo(5.5e-5, 15);
    expect(cos(35)).toBeCloseTo(1e-5 + 9e-5 * 0.5 * (1 + Math.cos(Math.PI / 4)), 15);
    expect(cos(110)).toBeCloseTo(1e-5, 15);
    expect(cos(1000)).toBeCloseTo(1e-5, 15);
    const lin = linearSchedule({ lr: 2, totalSteps: 10, minLr: 0 });
    expect([0, 5, 10, 20].map(lin)).toEqual([2, 1, 0, 0]);
    for (let s = 11; s < 110; s++) expect(cos(s)).toBeLessThanOrEqual(cos(s - 1));
    expect(() => cosineSchedule({ lr: 1, warmupSteps: 10, totalSteps: 5 })).toThrow(ConfigError);
    expect(() => cosineSchedule({ lr: 1, totalSteps: 5, minLr: 2 })).toThrow(ConfigError);
    expect(() => cos(-1)).toThrow(ConfigError);
  });
});

describeBackends('clipGradNorm / globalGradNorm', () => {
  it('scales every gradient by min(1, max / (norm + 1e-6)) like torch, and returns the norm', async () => {
    const ga = ref64.randomNd([3, 4], 7, 3);
    const gb = ref64.randomNd([5], 8, 3);
    const grads = { a: ref64.toTensor(ga), b: ref64.toTensor(gb) };
    const ref = ref64train.clipGradNormRef([ga.data, gb.data], 1.5);
    expect(ref.norm).toBeGreaterThan(1.5);
    const out = await expectNoLeaks(() => {
      const r = clipGradNorm(grads, 1.5);
      return { r, all: [r.norm, ...r.grads.values()] };
    });
    await expectClose(out.r.norm, ref.norm, 1e-6, 'norm');
    await expectClose(out.r.grads.get('a')!, ref.grads[0], 1e-6, 'a');
    await expectClose(out.r.grads.get('b')!, ref.grads[1], 1e-6, 'b');
    const big = clipGradNorm(grads, 1e3);
    expect(Array.from(await big.grads.get('a')!.data())).toEqual(Array.from(await grads.a.data())); // under the limit: unchanged
    const n = globalGradNorm(new Map(Object.entries(grads)));
    await expectClose(n, ref.norm, 1e-6);
    tf.dispose([out.r.norm, ...out.r.grads.values(), big.norm, ...big.grads.values(), n, grads.a, grads.b]);
  });
});

describeBackends('EMA', () => {
  it('update() follows ema <- d ema + (1-d) p; copyTo, swap, withAveraged and state export (PyTorch layout)', async () => {
    const lin = new Linear(3, 2, { seed: 1 });
    const ema = new EMA(lin, { decay: 0.9 });
    const ref = new Map<string, Float64Array>();
    for (const [k, p] of lin.namedParameters()) ref.set(k, Float64Array.from(await p.variable.data()));
    for (let s = 0; s < 3; s++) {
      for (const [k, p] of lin.namedParameters()) {
        const t = ref64.randomNd(p.variable.shape, 20 + s * 3 + (k === 'weight' ? 0 : 1));
        p.variable.assign(ref64.toTensor(t));
        ref64train.emaRefUpdate(ref.get(k)!, t.data, 0.9);
      }
      await expectNoLeaks(() => ema.update(), 'EMA.update');
    }
    for (const [k, r] of ref) await expectClose(ema.get(k)!, r, 1e-6, `ema ${k}`);
    const live = Array.from(await lin.weight.data());
    await ema.withAveraged(async () => {
      await expectClose(lin.weight, ref.get('weight')!, 1e-6, 'swapped in');
    });
    expect(Array.from(await lin.weight.data())).toEqual(live);
    const other = new Linear(3, 2);
    ema.copyTo(other);
    await expectClose(other.bias!, ref.get('bias')!, 1e-6);
    const state = await ema.exportState();
    expect(state.tensors.get('weight')!.shape).toEqual([2, 3]); // PyTorch layout
    expect(state.json.updates).toBe(3);
    const ema2 = new EMA(other, { decay: 0.9 });
    ema2.importState(state);
    await expectClose(ema2.get('weight')!, ref.get('weight')!, 1e-6, 'imported');
    expect(ema2.updates).toBe(3);
    const warm = new EMA(new Map([['x', variable([1], 1)]]), { decay: 0.999, warmup: true });
    expect(warm.currentDecay()).toBeCloseTo(0.1, 12);
    warm.update();
    expect(warm.currentDecay()).toBeCloseTo(2 / 11, 12);
    for (const e of [ema, ema2, warm]) e.dispose();
    lin.dispose();
    other.dispose();
  });
});

describeBackends('GradAccumulator', () => {
  it('the mean of micro-batch gradients equals the full-batch gradient of a mean loss', async () => {
    const lin = new Linear(3, 2, { seed: 4 });
    const vars = lin.trainableVariables();
    const x = ref64.toTensor(ref64.randomNd([4, 3], 5));
    const lossOf = (xb: tf.Tensor) => () => tf.mean(tf.square(lin.forward(xb))) as tf.Scalar;
    const full = computeGrads(lossOf(x), vars);
    const acc = new GradAccumulator();
    const before = tf.memory().numTensors;
    {
      for (const [b, n] of [[0, 2], [2, 2]]) {
        const xb = tf.slice(x, [b, 0], [n, 3]);
        const r = computeGrads(lossOf(xb), vars);
        acc.add(r.grads, r.loss);
        tf.dispose([xb, r.loss, ...r.grads.values()]);
      }
    }
    expect(tf.memory().numTensors).toBe(before + 3); // the running sums of weight, bias and loss
    expect(acc.count).toBe(2);
    const m = acc.mean();
    for (const [k, g] of full.grads) await expectClose(m.grads.get(k)!, g, 1e-6, k);
    await expectClose(m.loss!, full.loss, 1e-6, 'loss');
    expect(acc.count).toBe(0);
    expect(tf.memory().numTensors).toBe(before + 3); // sums freed, means returned
    tf.dispose([x, full.loss, ...full.grads.values(), m.loss!, ...m.grads.values()]);
    lin.dispose();
  });
});

describeBackends('NaN/Inf guard', () => {
  it('passes finite tensors and names the first non-finite one with the step', async () => {
    const ok = tf.tensor([1, 2, 3]);
    const nan = tf.tensor([1, NaN, 3]);
    const inf = tf.tensor([[0, -Infinity]]);
    await expectNoLeaks(() => assertFinite(3, [['loss', ok], ['grad:w', ok]]));
    const e1 = await assertFinite(7, [['loss', ok], ['grad:b', nan], ['grad:c', inf]]).catch((e) => e);
    expect(e1).toBeInstanceOf(NonFiniteError);
    expect([e1.step, e1.tensor]).toEqual([7, 'grad:b']);
    expect(e1.message).toContain("'grad:b' at step 7");
    const e2 = await assertFinite(8, new Map([['x', inf]])).catch((e) => e);
    expect([e2.step, e2.tensor]).toEqual([8, 'x']);
    tf.dispose([ok, nan, inf]);
  });
});

import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { describeBackends, expectClose, expectNoLeaks, relError } from '@fae/testing';
import { ConfigError, Rng } from '@fae/core';
import {
  GaussianFlowModel, LightningDiT, sample, euler, heun, eulerMaruyama, guidedVelocity, guidanceScaleAt, FAE_PAPER_GUIDANCE,
  odeTimesteps, sdeTimesteps, shiftNoiseLevel, unshiftNoiseLevel, lightningDiTShift, sd3ShiftFromLightningDiT, type StepInfo,
} from '@fae/diffusion';

const MU = [1.5, -0.5, 0.25, 2];
const STD = 0.5;

/** Least-squares slope of log(err) against log(steps). */
function logLogSlope(steps: number[], errs: number[]): number {
  const xs = steps.map(Math.log);
  const ys = errs.map(Math.log);
  const mx = xs.reduce((a, b) => a + b) / xs.length;
  const my = ys.reduce((a, b) => a + b) / ys.length;
  let num = 0, den = 0;
  xs.forEach((x, i) => {
    num += (x - mx) * (ys[i] - my);
    den += (x - mx) ** 2;
  });
  return num / den;
}

describeBackends('time grids and shift conventions', () => {
  it("LightningDiT's shift k on t (0 = noise) equals the SD3 shift 1/k on s = 1 - t; the paper's 0.4 is 2.5", () => {
    expect(sd3ShiftFromLightningDiT(0.4)).toBeCloseTo(2.5, 12);
    for (const k of [0.3, 0.4, 0.7]) for (const t of [0, 0.1, 0.37, 0.5, 0.9, 1]) {
      expect(1 - lightningDiTShift(t, k)).toBeCloseTo(shiftNoiseLevel(1 - t, 1 / k), 12);
    }
    expect(shiftNoiseLevel(0.5, 2.5)).toBeGreaterThan(0.5); // more steps near noise
    expect(unshiftNoiseLevel(shiftNoiseLevel(0.3, 2.5), 2.5)).toBeCloseTo(0.3, 12);
    expect(() => shiftNoiseLevel(0.5, 0)).toThrow(ConfigError);
  });

  it('ODE grid = linspace(1, 0, n + 1) shifted; SDE grid = REPA linspace(1, 0.04, n) + [0], last step 0.04 also when shifted', () => {
    expect(Array.from(odeTimesteps(4))).toEqual([1, 0.75, 0.5, 0.25, 0]);
    const sh = odeTimesteps(4, 2.5);
    expect(sh[0]).toBe(1);
    expect(sh[2]).toBeCloseTo(shiftNoiseLevel(0.5, 2.5), 12);
    const sde = sdeTimesteps(5);
    expect(Array.from(sde).map((v) => +v.toFixed(12))).toEqual([1, 0.76, 0.52, 0.28, 0.04, 0]);
    const sdeShift = sdeTimesteps(5, 2.5);
    expect(sdeShift[4]).toBeCloseTo(0.04, 12);
    expect(sdeShift[1]).toBeGreaterThan(0.76);
    expect(() => odeTimesteps(0)).toThrow(ConfigError);
  });

  it('guidance scale: constant, interval, and the paper\'s piecewise schedule', () => {
    expect(guidanceScaleAt(null, 0.5)).toBe(1);
    expect(guidanceScaleAt({ scale: 3, interval: [0, 0.7] }, 0.8)).toBe(1);
    expect(guidanceScaleAt({ scale: 3, interval: [0, 0.7] }, 0.7)).toBe(3);
    expect(guidanceScaleAt(FAE_PAPER_GUIDANCE, 0.95)).toBe(0.9);
    expect(guidanceScaleAt(FAE_PAPER_GUIDANCE, 0.8)).toBe(1);
    expect(guidanceScaleAt(FAE_PAPER_GUIDANCE, 0.3)).toBe(2.5);
  });
}, { backends: ['cpu'] });

describeBackends('samplers on Gaussian data (exact velocity known)', () => {
  const model = new GaussianFlowModel({ means: [MU], std: STD, latentShape: [2, 2, 4] });

  async function endpointError(sampler: typeof euler, steps: number, shift = 1): Promise<number> {
    const noise = new Rng(5).normal([3, 2, 2, 4]);
    const exact = model.exactSample(noise, [0, 0, 0]);
    const x = await sample({ model, labels: [0, 0, 0], steps, sampler, noise, shift });
    const err = relError(await x.data(), await exact.data()).maxAbs;
    tf.dispose([noise, exact, x]);
    return err;
  }

  it('Euler converges at order 1 and Heun at order 2 (log-log slope of the endpoint error)', async () => {
    const steps = [4, 8, 16, 32];
    const eErr: number[] = [], hErr: number[] = [];
    for (const n of steps) {
      eErr.push(await endpointError(euler, n));
      hErr.push(await endpointError(heun, n));
    }
    const eSlope = logLogSlope(steps, eErr);
    const hSlope = logLogSlope(steps, hErr);
    expect(eSlope, `Euler errors ${eErr}`).toBeGreaterThan(-1.25);
    expect(eSlope, `Euler errors ${eErr}`).toBeLessThan(-0.8);
    expect(hSlope, `Heun errors ${hErr}`).toBeGreaterThan(-2.4);
    expect(hSlope, `Heun errors ${hErr}`).toBeLessThan(-1.7);
    expect(hErr[3]).toBeLessThan(eErr[3] / 10);
    // With a timestep shift Heun still converges (at order 2) to the same exact endpoint.
    const [s16, s64] = [await endpointError(heun, 16, 2.5), await endpointError(heun, 64, 2.5)];
    expect(s64).toBeLessThan(s16 / 10);
    expect(s64).toBeLessThan(6e-3);
  });

  it('the same holds for a model in LightningDiT\'s convention (t = 0 noise)', async () => {
    const ldit = new GaussianFlowModel({ means: [MU], std: STD, latentShape: [2, 2, 4], timeConvention: 'data-at-1' });
    const noise = new Rng(6).normal([2, 2, 2, 4]);
    const exact = ldit.exactSample(noise, [0, 0]);
    const x = await sample({ model: ldit, labels: [0, 0], steps: 32, sampler: 'heun', noise });
    expect(relError(await x.data(), await exact.data()).maxAbs).toBeLessThan(2e-3);
    tf.dispose([noise, exact, x]);
  });

  it('Euler-Maruyama samples match the target mean and variance and are not a function of the initial noise', async () => {
    const n = 256;
    const steps = 60;
    const labels = new Array(n).fill(0);
    const noise = new Rng(11).normal([n, 2, 2, 4]);
    const x = await sample({ model, labels, steps, sampler: eulerMaruyama, noise, seed: 3 });
    const xv = await x.data();
    const nv = await noise.data();
    // Standardised per channel: 4096 values, standard errors 0.016 (mean) and 2.2% (variance).
    // REPA's final deterministic step from s = 0.04 lowers the variance by ~3% at 60 steps.
    const z = Float64Array.from(xv, (v, i) => (v - MU[i % 4]) / STD);
    const mean = z.reduce((a, b) => a + b) / z.length;
    const variance = z.reduce((a, b) => a + (b - mean) ** 2, 0) / z.length;
    expect(Math.abs(mean), `mean of standardised samples ${mean}`).toBeLessThan(0.07);
    expect(Math.abs(variance - 1), `variance of standardised samples ${variance}`).toBeLessThan(0.1);
    for (let c = 0; c < 4; c++) {
      let m = 0;
      for (let i = c; i < z.length; i += 4) m += z[i];
      expect(Math.abs(m / (z.length / 4)), `channel ${c}`).toBeLessThan(0.12);
    }
    // The ODE maps noise to mu + std * noise exactly (correlation 1); the SDE forgets most of it.
    let sxy = 0, sxx = 0, syy = 0;
    for (let i = 0; i < z.length; i++) {
      sxy += (z[i] - mean) * nv[i];
      sxx += (z[i] - mean) ** 2;
      syy += nv[i] ** 2;
    }
    expect(Math.abs(sxy / Math.sqrt(sxx * syy))).toBeLessThan(0.6);
    // Seeded: same seed, same samples; another seed, other samples.
    const again = await sample({ model, labels, steps, sampler: 'euler-maruyama', noise, seed: 3 });
    await expectClose(again, x, 0);
    const other = await sample({ model, labels, steps, sampler: 'euler-maruyama', noise, seed: 4 });
    expect(relError(await other.data(), xv).maxAbs).toBeGreaterThan(0.1);
    tf.dispose([noise, x, again, other]);
  });

  it('progress callback per step, NFE counts, seeded noise, no leaks', async () => {
    const seen: StepInfo[] = [];
    const x = await expectNoLeaks(() => sample({ model, labels: [0, 0], steps: 5, sampler: 'heun', seed: 9, onProgress: (i) => { seen.push(i); } }));
    expect(seen.map((s) => s.step)).toEqual([1, 2, 3, 4, 5]);
    expect(seen[4].nfe).toBe(heun.evaluations(5));
    expect(seen[0].s).toBe(1);
    expect(seen[4].sNext).toBe(0);
    const y = await sample({ model, labels: [0, 0], steps: 5, sampler: 'heun', seed: 9 });
    await expectClose(x, y, 0);
    tf.dispose([x, y]);
  });

  it('a throwing onProgress (cancellation) or velocity leaks no tensor, for every sampler', async () => {
    for (const sampler of ['euler', 'heun', 'euler-maruyama'] as const) {
      const before = tf.memory().numTensors;
      const cancel = new Error('cancelled');
      await expect(sample({ model, labels: [0, 0], steps: 4, sampler, onProgress: (i) => { if (i.step === 2) throw cancel; } })).rejects.toBe(cancel);
      expect(tf.memory().numTensors, `${sampler}, onProgress throws`).toBe(before);
      await expect(sample({ model, labels: [0], steps: 3, sampler, onProgress: async () => { await Promise.resolve(); throw cancel; } })).rejects.toBe(cancel);
      expect(tf.memory().numTensors, `${sampler}, async onProgress rejects`).toBe(before);
      let calls = 0;
      const failing = { ...sampler === 'euler' ? euler : sampler === 'heun' ? heun : eulerMaruyama };
      const velocity = (x: tf.Tensor) => {
        if (++calls === 3) throw cancel;
        return tf.mul(x, 0.5);
      };
      const noise = new Rng(1).normal([2, 2, 2, 4]);
      await expect(failing.run(velocity, noise, { steps: 4, rng: new Rng(2) })).rejects.toBe(cancel);
      noise.dispose();
      expect(tf.memory().numTensors, `${sampler}, velocity throws`).toBe(before);
    }
  });
});

describeBackends('classifier-free guidance', () => {
  const model = new GaussianFlowModel({ means: [[1, 2, 3, 4, 5], [-1, 0, 1, 2, 3]], nullMean: [0, 0, 0, 0, 0], std: 0.7, latentShape: [2, 2, 5] });

  it('batched cond/uncond in one forward equals v_u + w (v_c - v_u) on all channels', async () => {
    const x = new Rng(1).normal([2, 2, 2, 5]);
    const labels = tf.tensor1d([0, 1], 'int32');
    let batches: number[] = [];
    const spy = { ...model, timeConvention: model.timeConvention, nullClass: model.nullClass, latentShape: model.latentShape,
      forward: (a: tf.Tensor, t: tf.Tensor, y: tf.Tensor) => { batches.push(a.shape[0]); return model.forward(a, t, y); } };
    const v = guidedVelocity(spy, labels, { scale: 4 })(x, 0.6, 0.6);
    expect(batches).toEqual([4]);
    const t = tf.fill([2], 0.6);
    const vc = model.forward(x, t, labels);
    const vu = model.forward(x, t, tf.tensor1d([2, 2], 'int32'));
    const expected = tf.add(vu, tf.mul(tf.sub(vc, vu), 4));
    await expectClose(v, expected, 1e-6);
    // Channels 3 and 4 are guided too (upstream forward_with_cfg would leave them conditional).
    const diff = await tf.abs(tf.sub(v, vc)).data();
    expect(Math.max(...Array.from(diff).filter((_, i) => i % 5 >= 3))).toBeGreaterThan(0.1);
    batches = [];
    const plain = guidedVelocity(spy, labels, { scale: 4, interval: [0, 0.5] })(x, 0.6, 0.6);
    expect(batches).toEqual([2]); // outside the interval: conditional only
    await expectClose(plain, vc, 1e-6);
    tf.dispose([x, labels, v, t, vc, vu, expected, plain]);
  });

  it('sample() with the paper schedule differs from unguided sampling only where guided; guidance needs a null class', async () => {
    const noise = new Rng(2).normal([2, 2, 2, 5]);
    const a = await sample({ model, labels: [0, 1], steps: 10, noise, guidance: FAE_PAPER_GUIDANCE });
    const b = await sample({ model, labels: [0, 1], steps: 10, noise });
    const c = await sample({ model, labels: [0, 1], steps: 10, noise, guidance: { scale: 1 } });
    expect(relError(await a.data(), await b.data()).maxAbs).toBeGreaterThan(0.05);
    await expectClose(c, b, 0);
    const noNull = new GaussianFlowModel({ means: [MU], std: STD, latentShape: [2, 2, 4] });
    await expect(sample({ model: noNull, labels: [0], steps: 2, guidance: { scale: 2 } })).rejects.toThrow(ConfigError);
    tf.dispose([noise, a, b, c]);
  });
});

describeBackends('sample() with LightningDiT', () => {
  it('returns NHWC latents of the model\'s shape, batches guidance, leaks nothing', async () => {
    const m = new LightningDiT({ inputSize: 4, patchSize: 1, inChannels: 3, hiddenSize: 16, depth: 1, numHeads: 2, numClasses: 4, useRope: true, useSwiglu: true, useRmsnorm: true }, { seed: 3 });
    // Non-zero output layers so the velocity depends on the input.
    for (const v of [m.finalLayer.linear.weight, m.blocks.at(0).adaLNModulation.linear.weight, m.finalLayer.adaLNModulation.linear.weight]) {
      tf.tidy(() => v.assign(new Rng(4).normal(v.shape, 0, 0.1)));
    }
    const x = await expectNoLeaks(() => sample({ model: m, labels: [1, 3], steps: 3, sampler: 'euler-maruyama', guidance: { scale: 2 }, seed: 1, shift: 2.5 }));
    expect(x.shape).toEqual([2, 4, 4, 3]);
    expect(Array.from(await x.data()).every(Number.isFinite)).toBe(true);
    const u = await sample({ model: m, batchSize: 2, steps: 2 }); // unconditional: null class
    expect(u.shape).toEqual([2, 4, 4, 3]);
    tf.dispose([x, u]);
    m.dispose();
  });
});

// The paper's sampling presets: their grids against a float64 reference written in LightningDiT's own
// form (t = 0 noise, t' = k t / (1 + (k - 1) t), k = 0.4), and each preset end to end on a tiny
// LightningDiT (which steps are guided, the levels visited, no leaks, identical to the spelled-out call).
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { describeBackends, expectNoLeaks } from '@fae/testing';
import { ConfigError } from '@fae/core';
import {
  FAE_PAPER_GUIDANCE, FAE_PAPER_SHIFT, LightningDiT, SAMPLING_PRESETS, presetTimesteps, sample, samplePreset, samplingPreset,
  type StepInfo, type VelocityModel,
} from '@fae/diffusion';

/** LightningDiT `transport/integrators.py` ode.__init__ compute_tm, in float64. */
const compute_tm = (t: number, k: number) => (k * t) / (1 + (k - 1) * t);
/** Its inverse (t from t'). */
const inverse_tm = (tp: number, k: number) => tp / (k + (1 - k) * tp);

/** The ODE grid in LightningDiT's time, as noise levels: s_i = 1 - compute_tm(i / n, k), i = 0..n. */
function odeReference(n: number, k: number): number[] {
  return Array.from({ length: n + 1 }, (_, i) => 1 - compute_tm(i / n, k));
}

/** REPA's SDE grid (levels 1 .. 0.04, then 0), shifted: uniform in unshifted LightningDiT time up to the time whose shifted level is 0.04. */
function sdeReference(n: number, k: number, last = 0.04): number[] {
  const tEnd = inverse_tm(1 - last, k);
  return [...Array.from({ length: n }, (_, i) => 1 - compute_tm((tEnd * i) / (n - 1), k)), 0];
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Math.max(...Array.from(a, (x, i) => Math.abs(x - b[i])));

describeBackends('sampling presets: grids', () => {
  it("the paper's shift 0.4 (LightningDiT form) is SD3 factor 2.5; both presets: 250 steps with it", () => {
    expect(FAE_PAPER_SHIFT).toBeCloseTo(2.5, 14);
    for (const p of Object.values(SAMPLING_PRESETS)) expect([p.steps, p.shift, p.trainingShift]).toEqual([250, FAE_PAPER_SHIFT, FAE_PAPER_SHIFT]);
    expect(SAMPLING_PRESETS['fae-paper-sde']).toMatchObject({ sampler: 'euler-maruyama', guidance: null });
    expect(SAMPLING_PRESETS['fae-paper-ode-cfg']).toMatchObject({ sampler: 'euler', guidance: FAE_PAPER_GUIDANCE });
    expect(() => samplingPreset('fae-paper')).toThrow(ConfigError);
    expect(() => samplingPreset('fae-paper')).toThrow(/known: fae-paper-sde, fae-paper-ode-cfg/);
  });

  it('fae-paper-ode-cfg grid = 1 - compute_tm(linspace(0, 1, 251), 0.4) (float64, 1e-14)', () => {
    const grid = presetTimesteps('fae-paper-ode-cfg');
    const ref = odeReference(250, 0.4);
    expect(grid.length).toBe(251);
    expect(maxDiff(grid, ref)).toBeLessThan(1e-14);
    // More steps near noise than the unshifted grid: the midpoint level is 2.5 * 0.5 / 1.75.
    expect(grid[125]).toBeCloseTo(2.5 * 0.5 / 1.75, 14);
    expect(grid[125]).not.toBeCloseTo(0.5, 2);
  });

  it('fae-paper-sde grid = REPA linspace(1, 0.04, 250) + [0] uniform in unshifted time, shifted (float64, 1e-14)', () => {
    const grid = presetTimesteps('fae-paper-sde');
    const ref = sdeReference(250, 0.4);
    expect(grid.length).toBe(251);
    expect(maxDiff(grid, ref)).toBeLessThan(1e-14);
    expect(grid[249]).toBeCloseTo(0.04, 14); // the deterministic last step spans 0.04, as REPA
    expect(grid[250]).toBe(0);
    expect(grid[1]).toBeGreaterThan(1 - 0.96 / 249); // shifted: finer near noise than REPA's unshifted grid
  });
}, { backends: ['cpu'] });

describeBackends('sampling presets: end to end on a tiny LightningDiT', () => {
  const TINY = { inputSize: 4, patchSize: 2, inChannels: 3, hiddenSize: 16, depth: 1, numHeads: 2, numClasses: 5, classDropoutProb: 0.1 };

  /** Delegates to `model` and records (batch, noise level) of every forward. */
  function spy(model: LightningDiT): { m: VelocityModel; calls: Array<{ batch: number; s: number }> } {
    const calls: Array<{ batch: number; s: number }> = [];
    const m: VelocityModel = {
      timeConvention: model.timeConvention,
      nullClass: model.nullClass,
      latentShape: model.latentShape,
      forward(x, t, y) {
        calls.push({ batch: x.shape[0], s: 1 - t.dataSync()[0] }); // LightningDiT: t = 1 - s
        return model.forward(x, t, y);
      },
    };
    return { m, calls };
  }

  for (const name of Object.keys(SAMPLING_PRESETS) as Array<keyof typeof SAMPLING_PRESETS>) {
    it(`${name}: 250 steps over the preset's grid, guided exactly where the preset says, no leaks, = the spelled-out sample()`, async () => {
      const model = new LightningDiT(TINY, { seed: 3 });
      try {
        const { m, calls } = spy(model);
        const labels = [0, 3];
        const steps: StepInfo[] = [];
        const z = await expectNoLeaks(() => samplePreset(name, { model: m, labels, seed: 5, onProgress: (i) => void steps.push(i) }), name);
        const p = SAMPLING_PRESETS[name];
        const explicit = await sample({ model, labels, seed: 5, steps: 250, sampler: p.sampler, shift: p.shift, guidance: p.guidance });
        try {
          expect(z.shape).toEqual([2, 4, 4, 3]);
          const v = await z.data();
          expect(v.every(Number.isFinite)).toBe(true);
          expect(Array.from(v)).toEqual(Array.from(await explicit.data()));
          const grid = presetTimesteps(name);
          expect(steps.length).toBe(250);
          expect(steps.map((st) => st.s)).toEqual(Array.from(grid.slice(0, 250)));
          expect(calls.length).toBe(250);
          calls.forEach((c, i) => expect(c.s).toBeCloseTo(grid[i], 6));
          const guided = calls.filter((c) => c.batch === 4).map((c) => c.s);
          if (name === 'fae-paper-sde') expect(guided).toEqual([]);
          else {
            // 2B rows (cond + null) exactly on the levels in [0.9, 1] (scale 0.9) and [0, 0.7] (scale 2.5).
            const expected = Array.from(grid.slice(0, 250)).filter((s) => s >= 0.9 || s <= 0.7);
            expect(guided.length).toBe(expected.length);
            expect(calls.filter((c) => c.batch === 2).every((c) => c.s > 0.7 && c.s < 0.9)).toBe(true);
            expect(expected.length).toBeGreaterThan(150);
            expect(expected.length).toBeLessThan(250);
          }
        } finally {
          tf.dispose([z, explicit]);
        }
      } finally {
        model.dispose();
      }
    }, 600_000);
  }
}, { backends: ['cpu'] });

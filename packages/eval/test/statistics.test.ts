import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { describeBackends, expectNoLeaks, ref64, ref64eval } from '@fae/testing';
import { writeNpz, ConfigError } from '@fae/core';
import {
  FeatureStatistics, encodeStatisticsNpz, frechetDistance, loadStatisticsFile, mergeStatisticsFiles, saveStatisticsFile,
} from '@fae/eval';

const D = 6;
const N = 700; // more than one 256-row block
const x = Float64Array.from(ref64.randomNd([N, D], 1, 3).data, (v, i) => v + (i % D)); // offset means
const y = Float64Array.from(ref64.randomNd([400, D], 2, 2).data);

function maxRel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0, r = 0;
  for (let i = 0; i < a.length; i++) {
    m = Math.max(m, Math.abs(a[i] - b[i]));
    r = Math.max(r, Math.abs(b[i]));
  }
  return m / r;
}

describe('FeatureStatistics (streaming float64 mean / covariance)', () => {
  it('matches the two-pass np.mean / np.cov reference, whatever the batch sizes', () => {
    const ref = ref64eval.meanCov(x, N, D);
    for (const batch of [1, 7, 256, N]) {
      const s = new FeatureStatistics(D);
      for (let i = 0; i < N; i += batch) s.add(x.subarray(i * D, Math.min(N, i + batch) * D));
      const g = s.toGaussian();
      expect(s.count).toBe(N);
      expect(maxRel(g.mu, ref.mu)).toBeLessThan(1e-13);
      expect(maxRel(g.sigma, ref.sigma)).toBeLessThan(1e-13);
    }
  });

  it('merging shards equals one pass over everything (Chan update)', () => {
    const whole = new FeatureStatistics(D).add(x).toGaussian();
    const cuts = [0, 100, 350, 690, N];
    const parts = cuts.slice(1).map((e, i) => new FeatureStatistics(D).add(x.subarray(cuts[i] * D, e * D)));
    const merged = FeatureStatistics.mergeAll(parts).toGaussian();
    expect(maxRel(merged.mu, whole.mu)).toBeLessThan(1e-13);
    expect(maxRel(merged.sigma, whole.sigma)).toBeLessThan(1e-13);
    // through saved mean / covariance / count (what shard files carry)
    const viaSaved = FeatureStatistics.mergeAll(parts.map((p) => FeatureStatistics.fromGaussian(p.toGaussian(), p.count))).toGaussian();
    expect(maxRel(viaSaved.sigma, whole.sigma)).toBeLessThan(1e-12);
  });

  it('rejects non-finite features, wrong widths and covariances of one sample', () => {
    expect(() => new FeatureStatistics(3).add([1, 2])).toThrow(/\[rows, 3\]/);
    expect(() => new FeatureStatistics(2).add([1, NaN])).toThrow(/non-finite/);
    expect(() => new FeatureStatistics(2).add([1, 2]).toGaussian()).toThrow(ConfigError);
  });
});

describe('statistics files (.npz, ADM layout)', () => {
  let dir = '';
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('save / load round-trips exactly; FID between two files is reproducible', async () => {
    dir = await mkdtemp(join(tmpdir(), 'fae-eval-stats-'));
    const a = new FeatureStatistics(D).add(x);
    const b = new FeatureStatistics(D).add(y);
    const fa = { pool: { ...a.toGaussian(), count: a.count }, spatial: { ...b.toGaussian(), count: b.count }, activations: { data: Float32Array.from(y), rows: 400, dim: D } };
    await saveStatisticsFile(join(dir, 'a.npz'), fa);
    await saveStatisticsFile(join(dir, 'b.npz'), { pool: { ...b.toGaussian(), count: b.count } });
    const la = await loadStatisticsFile(join(dir, 'a.npz'));
    const lb = await loadStatisticsFile(join(dir, 'b.npz'));
    expect(Array.from(la.pool.sigma)).toEqual(Array.from(fa.pool.sigma));
    expect(la.pool.count).toBe(N);
    expect(la.spatial!.count).toBe(400);
    expect(la.activations!.rows).toBe(400);
    expect(lb.spatial).toBeUndefined();
    const direct = frechetDistance(a.toGaussian(), b.toGaussian());
    const fromFiles = frechetDistance(la.pool, lb.pool);
    const again = frechetDistance((await loadStatisticsFile(join(dir, 'a.npz'))).pool, (await loadStatisticsFile(join(dir, 'b.npz'))).pool);
    expect(fromFiles).toBe(direct);
    expect(again).toBe(fromFiles);
  });

  it('loads ADM reference batches (mu / sigma / mu_s / sigma_s beside arr_0) without their images', async () => {
    const ref = ref64eval.meanCov(y, 400, D);
    const bytes = writeNpz({
      arr_0: { dtype: 'U8', shape: [2, 4, 4, 3], data: new Uint8Array(96) },
      mu: { dtype: 'F64', shape: [D], data: ref.mu },
      sigma: { dtype: 'F64', shape: [D, D], data: ref.sigma },
      mu_s: { dtype: 'F32', shape: [D], data: Float32Array.from(ref.mu) },
      sigma_s: { dtype: 'F32', shape: [D, D], data: Float32Array.from(ref.sigma) },
    });
    const f = await loadStatisticsFile(bytes);
    expect(Array.from(f.pool.mu)).toEqual(Array.from(ref.mu));
    expect(f.pool.count).toBeUndefined();
    expect(f.spatial!.sigma).toBeInstanceOf(Float64Array);
    expect(() => mergeStatisticsFiles([f, f])).toThrow(/no sample count/);
    await expect(loadStatisticsFile(writeNpz({ arr_0: { dtype: 'U8', shape: [1], data: new Uint8Array(1) } }))).rejects.toThrow(/no 'mu'\/'sigma'/);
  });

  it('merges saved shards into the statistics of the whole set', async () => {
    const whole = new FeatureStatistics(D).add(x);
    const s1 = new FeatureStatistics(D).add(x.subarray(0, 300 * D));
    const s2 = new FeatureStatistics(D).add(x.subarray(300 * D));
    const parts = await Promise.all([s1, s2].map((s) => loadStatisticsFile(encodeStatisticsNpz({ pool: { ...s.toGaussian(), count: s.count } }))));
    const merged = mergeStatisticsFiles(parts);
    expect(merged.pool.count).toBe(N);
    expect(maxRel(merged.pool.sigma, whole.toGaussian().sigma)).toBeLessThan(1e-12);
  });
});

describeBackends('FeatureStatistics.addTensor', () => {
  it("'float64' is exact; 'backend' (float32 Gram on the backend, float64 totals) agrees to ~1e-6", async () => {
    const Dt = 40;
    const data = Float32Array.from(ref64.randomNd([300, Dt], 9, 2).data, (v, i) => v + 5 + (i % Dt) / 7); // large means: centring matters
    const exact = new FeatureStatistics(Dt).add(data, 300).toGaussian();
    for (const gram of ['float64', 'backend'] as const) {
      const s = new FeatureStatistics(Dt);
      for (let r = 0; r < 300; r += 64) {
        const t = tf.tensor2d(data.subarray(r * Dt, Math.min(300, r + 64) * Dt), [Math.min(64, 300 - r), Dt]);
        await expectNoLeaks(() => s.addTensor(t, { gram }));
        t.dispose();
      }
      const g = s.toGaussian();
      expect(s.count).toBe(300);
      expect(maxRel(g.mu, exact.mu)).toBeLessThan(1e-12);
      expect(maxRel(g.sigma, exact.sigma)).toBeLessThan(gram === 'float64' ? 1e-12 : 2e-6);
    }
  });
});

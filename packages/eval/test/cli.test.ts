import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeFixture, ref64 } from '@fae/testing';
import { encodePng } from '@fae/core';
import { FeatureStatistics, frechetDistance, loadStatisticsFile, saveStatisticsFile } from '@fae/eval';

const PKG = resolve(__dirname, '..');

/** Runs the fae-eval CLI from its sources (no build), returning exit code and outputs. */
function cli(args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--import', './scripts/register-sources.mjs', 'src/cli/fae-eval.ts', ...args], {
    cwd: PKG, encoding: 'utf8', timeout: 240_000,
  });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fae-eval-cli-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('fae-eval CLI', () => {
  it('fid between two statistics files, and merge of shards, print JSON', async () => {
    const D = 5;
    const x = ref64.randomNd([60, D], 1).data;
    const y = Float64Array.from(ref64.randomNd([40, D], 2).data, (v) => 2 * v + 0.3);
    const sx = new FeatureStatistics(D).add(x);
    const sy = new FeatureStatistics(D).add(y);
    await saveStatisticsFile(join(dir, 'x.npz'), { pool: { ...sx.toGaussian(), count: 60 }, spatial: { ...sy.toGaussian(), count: 40 } });
    await saveStatisticsFile(join(dir, 'y.npz'), { pool: { ...sy.toGaussian(), count: 40 }, spatial: { ...sx.toGaussian(), count: 60 } });
    const r = cli(['fid', join(dir, 'x.npz'), join(dir, 'y.npz')]);
    expect(r.code, r.err).toBe(0);
    const out = JSON.parse(r.out);
    expect(out.fid).toBe(frechetDistance(sx.toGaussian(), sy.toGaussian()));
    expect(out.sfid).toBe(frechetDistance(sy.toGaussian(), sx.toGaussian()));
    expect(out.dim).toBe(D);
    // two shards of x merge back into x's statistics
    await saveStatisticsFile(join(dir, 'x1.npz'), { pool: { ...new FeatureStatistics(D).add(x.subarray(0, 25 * D)).toGaussian(), count: 25 } });
    await saveStatisticsFile(join(dir, 'x2.npz'), { pool: { ...new FeatureStatistics(D).add(x.subarray(25 * D)).toGaussian(), count: 35 } });
    const m = cli(['merge', join(dir, 'xm.npz'), join(dir, 'x1.npz'), join(dir, 'x2.npz')]);
    expect(m.code, m.err).toBe(0);
    expect(JSON.parse(m.out).count).toBe(60);
    const merged = await loadStatisticsFile(join(dir, 'xm.npz'));
    expect(Math.max(...merged.pool.sigma.map((v, i) => Math.abs(v - sx.toGaussian().sigma[i])))).toBeLessThan(1e-12);
  });

  it('fails with the usage on a bad command and names a missing file', () => {
    const bad = cli(['frobnicate']);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('usage:');
    const missing = cli(['fid', join(dir, 'nope.npz'), join(dir, 'nope2.npz')]);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('nope.npz');
  });
});

describeFixture('fae-eval on images (procedural Inception weights)', ['eval', 'inception_fid'], (fixture) => {
  it('stats of a PNG folder, then eval against them: FID ~ 0, IS and progress reported', async () => {
    const imgs = join(dir, 'imgs');
    await (await import('node:fs/promises')).mkdir(imgs);
    for (let i = 0; i < 3; i++) {
      const data = Uint8Array.from({ length: 24 * 20 * 3 }, (_, k) => (k * (i + 2) * 13) % 256);
      await writeFile(join(imgs, `${i}.png`), encodePng({ width: 20, height: 24, channels: 3, data }));
    }
    const weights = join(fixture, 'weights.json');
    const s = cli(['stats', imgs, '--weights', weights, '--backend', 'wasm', '--batch', '2', '--out', join(dir, 'ref.npz'), '--features']);
    expect(s.code, s.err).toBe(0);
    expect(JSON.parse(s.out)).toMatchObject({ count: 3, dim: 2048, spatial: true, backend: 'wasm' });
    expect(s.err).toMatch(/\[fae-eval\] 3\/3 images/);
    const e = cli(['eval', imgs, '--ref', join(dir, 'ref.npz'), '--weights', weights, '--backend', 'wasm', '--k', '1', '--save-stats', join(dir, 'samples.npz')]);
    expect(e.code, e.err).toBe(0);
    const report = JSON.parse(e.out);
    expect(report.count).toBe(3);
    expect(Math.abs(report.fid)).toBeLessThan(1e-6 * 10);
    expect(Math.abs(report.sfid)).toBeLessThan(1e-6 * 10);
    expect(report.inception_score).toBeGreaterThanOrEqual(1);
    expect([report.precision, report.recall]).toEqual([1, 1]);
    expect((await loadStatisticsFile(join(dir, 'samples.npz'))).pool.count).toBe(3);
  }, 300_000);
});

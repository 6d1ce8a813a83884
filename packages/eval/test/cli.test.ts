import { spawn, spawnSync } from 'node:child_process';
import { unlink } from 'node:fs/promises';
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

/** The same, as a child process running alongside others. */
function cliAsync(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((done) => {
    const c = spawn(process.execPath, ['--import', 'tsx', '--import', './scripts/register-sources.mjs', 'src/cli/fae-eval.ts', ...args], { cwd: PKG });
    let [out, err] = ['', ''];
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (err += d));
    c.on('close', (code) => done({ code: code ?? -1, out, err }));
  });
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

  it('stats --shard i/n in 2 processes merge (--shards) to the unsharded statistics; finished shards skipped, a lost one rerun alone', async () => {
    const imgs = join(dir, 'imgs6');
    await (await import('node:fs/promises')).mkdir(imgs);
    for (let i = 0; i < 6; i++) {
      const data = Uint8Array.from({ length: 24 * 20 * 3 }, (_, k) => (k * (i + 3) * 7 + i * 31) % 256);
      await writeFile(join(imgs, `${i}.png`), encodePng({ width: 20, height: 24, channels: 3, data }));
    }
    const weights = join(fixture, 'weights.json');
    const common = ['--weights', weights, '--backend', 'wasm', '--batch', '2', '--features', '--quiet'];
    const shards = join(dir, 'shards');
    const one = cli(['stats', imgs, ...common, '--out', join(dir, 'all6.npz')]);
    expect(one.code, one.err).toBe(0);
    const first = cli(['stats', imgs, ...common, '--shard', '0/2', '--out', shards]);
    expect(first.code, first.err).toBe(0);
    expect(JSON.parse(first.out)).toMatchObject({ shard: { index: 0, count: 2 }, range: [0, 2], total: 6, skipped: false });
    const early = cli(['merge', join(dir, 'merged.npz'), '--shards', shards]);
    expect(early.code).toBe(1);
    expect(early.err).toMatch(/incomplete: 1 of 2 shards are not finished \(indices 1\)/);
    // shard 1 and a rerun of shard 0, as two processes at once: the finished one is skipped
    const [again, second] = await Promise.all([cliAsync(['stats', imgs, ...common, '--shard', '0/2', '--out', shards]), cliAsync(['stats', imgs, ...common, '--shard', '1/2', '--out', shards])]);
    expect(again.code, again.err).toBe(0);
    expect(second.code, second.err).toBe(0);
    expect(JSON.parse(again.out).skipped).toBe(true);
    expect(JSON.parse(second.out)).toMatchObject({ range: [2, 6], skipped: false });
    const m = cli(['merge', join(dir, 'merged.npz'), '--shards', shards]);
    expect(m.code, m.err).toBe(0);
    expect(JSON.parse(m.out)).toMatchObject({ count: 6, total: 6, shards: 2, spatial: true });
    const [ref, merged] = [await loadStatisticsFile(join(dir, 'all6.npz')), await loadStatisticsFile(join(dir, 'merged.npz'))];
    expect(merged.pool.count).toBe(6);
    expect(merged.activations!.data).toEqual(ref.activations!.data); // the same pool3 features, bit for bit
    // mean / covariance: Chan's merge is exact in exact arithmetic; here float64 rounding apart
    const maxAbs = (a: Float64Array, b?: Float64Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - (b ? b[i] : 0))), 0);
    for (const k of ['pool', 'spatial'] as const) {
      expect(maxAbs(merged[k]!.sigma, ref[k]!.sigma) / maxAbs(ref[k]!.sigma), k).toBeLessThan(1e-12);
      expect(maxAbs(merged[k]!.mu, ref[k]!.mu) / maxAbs(ref[k]!.mu), k).toBeLessThan(1e-12);
    }
    expect(merged.shard).toBeUndefined();
    // a lost shard reruns alone; a shard made with other options is refused at merge
    await unlink(join(shards, 'stats-00001-of-00002.npz'));
    const redo = cli(['stats', imgs, ...common, '--shard', '1/2', '--out', shards]);
    expect(JSON.parse(redo.out).skipped).toBe(false);
    const other = cli(['stats', imgs, ...common, '--no-spatial', '--shard', '1/2', '--out', shards]);
    expect(other.code, other.err).toBe(0);
    const bad = cli(['merge', join(dir, 'bad.npz'), '--shards', shards]);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/stats-00001-of-00002.npz was made with other options/);
  }, 400_000);
});

// End to end on the shipped checkpoints: `fae demo` writes the three PNG grids and metrics that are
// numbers in their valid ranges, the reconstructions keep the encoder's features; plus the typed
// errors of the commands (missing models folder, unreadable image) and a one-stage training run.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { describeBackends } from '@fae/testing';
import { decodePng } from '@fae/core';
import { main } from '../src/main.js';
import { SHIPPED_CHECKPOINTS } from '../src/checkpoints.js';

const tmp = mkdtempSync(join(tmpdir(), 'fae-cli-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { stdout: (s: string) => void out.push(s), stderr: (s: string) => void err.push(s) }, out, err };
}

describeBackends('fae CLI end to end', ({ backend }) => {
  it.skipIf(!existsSync(join(SHIPPED_CHECKPOINTS, 'dit', 'model.safetensors')))('demo samples labelled grids, reconstructs held-out digits and prints metrics (skipped only where the shipped checkpoints are absent)', async () => {
    const out = join(tmp, `demo-${backend}`);
    const c = capture();
    const code = await main(['demo', '--backend', backend, '--out', out, '--per-class', '2', '--quiet'], c.io);
    expect(c.err.join(''), c.err.join('')).toBe('');
    expect(code).toBe(0);
    const result = JSON.parse(c.out.join(''));
    for (const key of ['dit', 'tarflow', 'reconstructions'] as const) {
      const png = decodePng(readFileSync(result.outputs[key]));
      expect(png.width).toBeGreaterThan(28);
      expect(png.height).toBeGreaterThan(28);
    }
    const dit = decodePng(readFileSync(result.outputs.dit));
    expect(dit.height).toBeGreaterThan(10 * 28); // ten labelled rows
    const m = result.metrics;
    expect(m.classifier.heldOutAccuracy).toBeGreaterThan(0.985); // the CNN judge (0.988)
    for (const g of ['dit', 'tarflow']) {
      expect(m.generation[g].n).toBe(20);
      expect(m.generation[g].accuracy).toBeLessThanOrEqual(1);
      expect(m.generation[g].fid).toBeGreaterThan(0);
      expect(Number.isFinite(m.generation[g].fid)).toBe(true);
    }
    // The shipped generators make digits of the requested class (chance: 0.1; metrics.json: DiT 0.966,
    // TARFlow 0.884 on 500 samples; these 20 are seeded, so the numbers are fixed per checkpoint).
    expect(m.generation.dit.accuracy).toBeGreaterThanOrEqual(0.9);
    expect(m.generation.tarflow.accuracy).toBeGreaterThanOrEqual(0.75);
    // The FAE round trip keeps the frozen encoder's features and the pixels (shipped, 300 digits:
    // R^2 0.918, 24.1 dB; the mean digit scores 11.9 dB).
    expect(m.reconstruction.featureCosine).toBeGreaterThan(0.99);
    expect(m.reconstruction.featureCosine).toBeLessThanOrEqual(1);
    expect(m.reconstruction.featureR2).toBeGreaterThan(0.85);
    expect(m.reconstruction.psnr).toBeGreaterThan(20);
    expect(m.reconstruction.psnr).toBeGreaterThan(m.reconstruction.meanImagePsnr + 8);
    expect(JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')).metrics.generation.dit.n).toBe(20);
  });
}, { backends: ['wasm'] });

describeBackends('fae CLI errors', () => {
  it('a missing models folder is a clear error with exit code 1', async () => {
    const c = capture();
    const code = await main(['sample', '--models', join(tmp, 'nope'), '--out', join(tmp, 'o1'), '--quiet'], c.io);
    expect(code).toBe(1);
    expect(c.err.join('')).toMatch(/InputFileError: .*nope: models folder not found/);
  });
  it('an unreadable image is a clear error with exit code 1', async () => {
    const bad = join(tmp, 'bad.png');
    writeFileSync(bad, 'not a png');
    const c = capture();
    expect(await main(['reconstruct', bad, '--out', join(tmp, 'o2'), '--quiet'], c.io)).toBe(1);
    expect(c.err.join('')).toMatch(/bad\.png: cannot decode as PNG or JPEG/);
    const c2 = capture();
    expect(await main(['reconstruct', join(tmp, 'missing.png'), '--out', join(tmp, 'o2'), '--quiet'], c2.io)).toBe(1);
    expect(c2.err.join('')).toMatch(/missing\.png: no such file/);
  });
  it('a component folder without weights names the missing file', async () => {
    const models = join(tmp, 'partial');
    const c = capture();
    expect(await main(['train', 'classifier', '--steps', '2', '--models', models, '--out', join(tmp, 'o3'), '--quiet'], c.io)).toBe(0);
    expect(existsSync(join(models, 'classifier', 'model.safetensors'))).toBe(true);
    expect(JSON.parse(readFileSync(join(models, 'logs', 'classifier.json'), 'utf8')).steps).toBe(2);
    const c2 = capture();
    expect(await main(['sample', '--models', models, '--out', join(tmp, 'o3'), '--quiet'], c2.io)).toBe(1);
    expect(c2.err.join("")).toMatch(/adapter\/config\.json: missing: the models folder has no adapter\/config\.json/);
  });

  it('training is repeatable: the same --seed gives the same bytes for every FAE component, another seed does not', async () => {
    const run = async (name: string, seed: number) => {
      const models = join(tmp, `seeded-${name}`);
      for (const stage of ['encoder', 'stage-ib', 'stage-ia']) {
        const c = capture();
        const code = await main(['train', stage, '--steps', '2', '--seed', String(seed), '--models', models, '--out', join(tmp, `seeded-${name}-out`), '--quiet'], c.io);
        expect(code, c.err.join('')).toBe(0);
      }
      return Object.fromEntries(['encoder', 'adapter', 'feature-decoder', 'pixel-decoder'].map((k) => [k, readFileSync(join(models, k, 'model.safetensors'))]));
    };
    const [a, b, other] = [await run('a', 5), await run('b', 5), await run('c', 6)];
    for (const k of Object.keys(a)) {
      expect(a[k].equals(b[k]), `${k}: same seed, same bytes`).toBe(true);
      expect(a[k].equals(other[k]), `${k}: another seed, other bytes`).toBe(false);
    }
  });
}, { backends: ['wasm'] });

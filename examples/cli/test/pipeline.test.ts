// `fae train all --data <folder> --recipe smoke`, then `fae sample`, `fae eval --data` and
// `fae reconstruct` on the result: a generated folder of class sub-folders of mixed PNG / JPEG images
// (grey / RGB / RGBA, several sizes, one not square), on wasm as the done-criterion asks.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @fae/testing first: it loads tfjs-core and the backends in the order every test process uses
import '@fae/testing';
import { decodePng, encodeJpeg, encodePng, type RawImage } from '@fae/core';
import { main } from '../src/main.js';

const tmp = mkdtempSync(join(tmpdir(), 'fae-cli-pipeline-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { stdout: (s: string) => void out.push(s), stderr: (s: string) => void err.push(s) }, out, err };
}

function stripes(cls: number, i: number, width: number, height: number, channels: 1 | 3 | 4): RawImage {
  const data = new Uint8Array(width * height * channels);
  for (let p = 0; p < width * height; p++) {
    const [x, y] = [p % width, Math.floor(p / width)];
    const on = Math.floor(((cls === 0 ? x : cls === 1 ? y : x + y) + i) / 4) % 2;
    for (let c = 0; c < channels; c++) data[p * channels + c] = c === 3 ? 255 : on ? 40 + 80 * cls : 230 - 60 * c;
  }
  return { width, height, channels, data };
}

const data = join(tmp, 'shapes');
const models = join(tmp, 'models');
const out = join(tmp, 'out');

describe('fae over @fae/pipeline on an image folder (wasm)', () => {
  beforeAll(() => {
    const sizes: Array<[number, number]> = [[32, 32], [40, 40], [48, 36], [24, 24]];
    ['ring', 'square', 'wave'].forEach((name, c) => {
      mkdirSync(join(data, name), { recursive: true });
      for (let i = 0; i < 8; i++) {
        const [w, h] = sizes[(i + c) % sizes.length];
        const channels = ([3, 1, 4] as const)[i % 3];
        const img = stripes(c, i, w, h, channels);
        const jpeg = i % 2 === 1 && channels !== 4;
        writeFileSync(join(data, name, `${i}.${jpeg ? 'jpg' : 'png'}`), jpeg ? encodeJpeg(img, 95) : encodePng(img));
      }
    });
  });

  it('train all --recipe smoke, then sample, eval --data and reconstruct', async () => {
    const t0 = Date.now();
    const c = capture();
    const code = await main(['train', 'all', '--data', data, '--models', models, '--recipe', 'smoke', '--backend', process.env.FAE_CLI_BACKEND ?? 'wasm', '--out', out, '--quiet'], c.io);
    expect(c.err.join(''), c.err.join('')).toBe('');
    expect(code).toBe(0);
    const trained = JSON.parse(c.out.join(''));
    expect(trained.stages.map((s: { stage: string }) => s.stage)).toEqual(['encoder', 'features', 'stage-ib', 'stage-ia', 'stage-ii', 'latents', 'dit', 'tarflow']);
    expect(trained.classes).toEqual(['ring', 'square', 'wave']);
    expect((Date.now() - t0) / 1000).toBeLessThan(600); // the done-criterion's bound (seconds here)

    const s = capture();
    expect(await main(['sample', '--models', models, '--labels', '0,1,2', '--per-class', '2', '--backend', 'wasm', '--out', out, '--quiet'], s.io)).toBe(0);
    const sampled = JSON.parse(s.out.join(''));
    const grid = decodePng(readFileSync(sampled.png));
    expect(grid.width).toBeGreaterThan(2 * 32);
    expect(grid.height).toBeGreaterThan(3 * 32); // three labelled rows

    const e = capture();
    expect(await main(['eval', '--models', models, '--data', data, '--backend', 'wasm', '--out', out, '--quiet'], e.io)).toBe(0);
    const metrics = JSON.parse(e.out.join(''));
    expect(metrics.images).toBe(24);
    expect(metrics.reconstruction.psnr).toBeGreaterThan(0);
    expect(metrics.reconstruction.ssim).toBeLessThanOrEqual(1);
    for (const g of ['dit', 'tarflow']) expect(Number.isFinite(metrics.generation[g].encoderFd)).toBe(true);
    expect(JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')).reconstruction.psnr).toBe(metrics.reconstruction.psnr);

    const r = capture();
    expect(await main(['reconstruct', join(data, 'wave', '1.jpg'), join(data, 'ring', '2.png'), '--models', models, '--backend', 'wasm', '--out', out, '--quiet'], r.io)).toBe(0);
    expect(r.err.join('')).toMatch(/48x36, not square: squashed to 32x32/);
    const rec = JSON.parse(r.out.join(''));
    expect(rec.n).toBe(2);
    expect(decodePng(readFileSync(rec.png)).height).toBeGreaterThan(2 * 32);
  });

  it('a bad --out is a one-line error, no stack trace', async () => {
    const file = join(tmp, 'a-file');
    writeFileSync(file, 'x');
    const c = capture();
    expect(await main(['sample', '--out', join(file, 'sub'), '--backend', 'cpu', '--quiet'], c.io)).toBe(1);
    const err = c.err.join('');
    expect(err).toMatch(/cannot create the output folder/);
    expect(err).not.toMatch(/\n\s+at /);
  });
});

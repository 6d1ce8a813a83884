// FaePipeline on the checkpoints the digits example ships: loads them (no pipeline.json: the fixed
// layout), reconstructs the held-out digits with the shipped metrics, generates with both generators
// through the one LatentGenerator interface, and round-trips through save() / load().
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeBackends, IN_CI } from '@fae/testing';
import { psnrSsimBatch } from '@fae/eval';
import { FaePipeline, digitDataset, imageBatches, sliceDigits, splitMnist } from '@fae/pipeline';

const SHIPPED = resolve(__dirname, '../../../examples/cli/checkpoints');
const present = existsSync(join(SHIPPED, 'dit', 'model.safetensors'));
if (!present && IN_CI) throw new Error(`${SHIPPED} is missing (the shipped checkpoints must be in CI)`);
const tmp = mkdtempSync(join(tmpdir(), 'fae-pipeline-shipped-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describeBackends('FaePipeline on the shipped digits checkpoints', ({ backend }) => {
  let pipe: FaePipeline;
  beforeAll(async () => {
    if (present) pipe = await FaePipeline.load(SHIPPED);
  });
  afterAll(() => pipe?.dispose());

  it.skipIf(!present || backend !== 'wasm')('reconstructs 300 held-out digits with the shipped feature cosine and PSNR (wasm only: the shipped metrics were measured on wasm)', async () => {
    const shipped = JSON.parse(readFileSync(join(SHIPPED, 'metrics.json'), 'utf8')).reconstruction;
    const held = sliceDigits((await splitMnist()).heldOut, 0, 300);
    let cos = 0;
    const psnrs: number[] = [];
    for await (const b of imageBatches(digitDataset(held), { batchSize: 250, shuffle: false })) {
      const r = pipe.reconstructAll(b.images);
      const c = tf.tidy(() => {
        const dot = tf.sum(tf.mul(r.features, r.reconFeatures), -1);
        const n = tf.mul(tf.norm(r.features, 'euclidean', -1), tf.norm(r.reconFeatures, 'euclidean', -1));
        return tf.sum(tf.mean(tf.reshape(tf.div(dot, tf.maximum(n, 1e-8)), [b.labels.length, -1]), 1));
      });
      cos += (await c.data())[0];
      const grey = tf.tidy(() => tf.mean(r.images, 3, true));
      const real = tf.tidy(() => tf.slice(b.images, [0, 0, 0, 0], [-1, -1, -1, 1]));
      psnrs.push(...(await psnrSsimBatch(grey, real, { dataRange: 1, ssim: false })).psnr);
      tf.dispose([c, grey, real, b.images, r.features, r.latents, r.reconFeatures, r.images]);
    }
    expect(cos / 300).toBeCloseTo(shipped.featureCosine, 4);
    expect(psnrs.reduce((s, v) => s + v, 0) / 300).toBeCloseTo(shipped.psnr, 2);
  });

  it.skipIf(!present)('generates digits with the DiT and the TARFlow through one interface, seeded and tidy', async () => {
    expect(pipe.generatorNames).toEqual(['dit', 'tarflow']);
    for (const generator of pipe.generatorNames) {
      const before = tf.memory().numTensors;
      const x = await pipe.generate({ labels: [3, 7], generator, seed: 5, steps: 4 });
      expect(tf.memory().numTensors).toBe(before + 1);
      const y = await pipe.generate({ labels: [3, 7], generator, seed: 5, steps: 4 });
      expect(x.shape).toEqual([2, 28, 28, 3]);
      const [dx, dy] = [await x.data(), await y.data()];
      expect(Math.min(...dx)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...dx)).toBeLessThanOrEqual(1);
      expect(Array.from(dx)).toEqual(Array.from(dy));
      tf.dispose([x, y]);
      expect(tf.memory().numTensors).toBe(before);
    }
  });

  it.skipIf(!present)('encode/decode/reconstruct leave no tensors and refuse wrong shapes', async () => {
    const images = tf.randomUniform([2, 28, 28, 3]);
    const before = tf.memory().numTensors;
    const z = pipe.encode(images);
    expect(z.shape).toEqual([2, 7, 7, 8]);
    const back = pipe.decode(z);
    expect(back.shape).toEqual([2, 28, 28, 3]);
    tf.dispose([z, back]);
    tf.dispose(pipe.reconstruct(images));
    expect(tf.memory().numTensors).toBe(before);
    expect(() => pipe.decode(tf.zeros([1, 7, 7, 5]))).toThrow(/\[B, h, w, 8\]/);
    images.dispose();
  });

  it.skipIf(!present || backend !== 'cpu')('save() writes pipeline.json; load() of it gives the same latents and samples (cpu only: a file round trip, the same on every backend)', async () => {
    const dir = join(tmp, 'saved');
    await pipe.save(dir);
    const manifest = JSON.parse(readFileSync(join(dir, 'pipeline.json'), 'utf8'));
    expect(manifest.format).toBe('fae-pipeline');
    expect(manifest.latentStats.mean).toHaveLength(8);
    const again = await FaePipeline.load(dir);
    try {
      const images = tf.randomUniform([2, 28, 28, 3], 0, 1, 'float32', 3);
      const [a, b] = [pipe.encode(images), again.encode(images)];
      expect(Array.from(await b.data())).toEqual(Array.from(await a.data()));
      const [s1, s2] = [await pipe.generate({ labels: [1], seed: 2, steps: 3 }), await again.generate({ labels: [1], seed: 2, steps: 3 })];
      expect(Array.from(await s2.data())).toEqual(Array.from(await s1.data()));
      tf.dispose([images, a, b, s1, s2]);
    } finally {
      again.dispose();
    }
  });
});

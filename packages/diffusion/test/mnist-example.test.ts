import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { describeBackends } from '@fae/testing';
import { trainMnistPixels, loadDigits } from '../examples/train-mnist-pixels.js';

describeBackends('examples/train-mnist-pixels (smoke run)', () => {
  it('loads real digits, trains the classifier and the DiT, samples and judges, leaks nothing', async () => {
    const { pixels, labels } = loadDigits(0, 50);
    expect(pixels.length).toBe(50 * 784);
    expect(Math.max(...pixels)).toBeLessThanOrEqual(1);
    expect(new Set(labels).size).toBeGreaterThan(5);
    const before = tf.memory().numTensors;
    const lines: string[] = [];
    const r = await trainMnistPixels({
      limit: 300, steps: 3, batch: 8, classifierEpochs: 5, perClass: 1, sampleSteps: 2, downsample: 2,
      model: { hiddenSize: 16, depth: 1, numHeads: 2 }, log: (l) => lines.push(l),
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(r.classifierAccuracy).toBeGreaterThan(0.4); // 5 epochs on 270 real digits: far above chance (0.1)
    // One sample per class from a DiT trained for 3 steps: its samples are noise to the classifier, so
    // only chance hits (0.2 on cpu; 6 or more of 10 at p = 0.1 has probability 1.5e-4). A judge that
    // scored labels against themselves (or samples against their own predictions) would report 1.0.
    expect(r.perClassAccuracy.length).toBe(10);
    expect(r.perClassAccuracy.every((a) => a === 0 || a === 1)).toBe(true); // perClass 1: hit or miss
    expect(r.sampleAccuracy).toBeCloseTo(r.perClassAccuracy.reduce((a, b) => a + b, 0) / 10, 12);
    expect(r.sampleAccuracy).toBeLessThanOrEqual(0.5);
    expect(r.firstLoss).toBeGreaterThan(0.5);
    expect(lines.some((l) => l.startsWith('samples:'))).toBe(true);
  });
});

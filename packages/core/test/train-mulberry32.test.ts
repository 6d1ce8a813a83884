// mulberry32 (the small seeded uniform stream behind the linear probe's shuffles and @fae/testing's
// seededRandom): pinned outputs, so moving or editing it cannot silently change those streams.
import { describe, expect, it } from 'vitest';
import { describeBackends } from '@fae/testing';
import * as tf from '@tensorflow/tfjs-core';
import { Linear, mulberry32, withSeededRandom } from '@fae/core';

const draw = (r: () => number, n: number) => Array.from({ length: n }, () => r());

describe('mulberry32', () => {
  it('gives the pinned first outputs for seeds 0 and 20250101', () => {
    expect(draw(mulberry32(0), 3)).toEqual([0.26642920868471265, 0.0003297457005828619, 0.2232720274478197]);
    expect(draw(mulberry32(20250101), 3)).toEqual([0.829803925473243, 0.010385046247392893, 0.3234810051508248]);
  });

  it('takes the seed as uint32 and stays in [0, 1)', () => {
    expect(draw(mulberry32(-1), 3)).toEqual([0.8964226141106337, 0.189478256739676, 0.7156526781618595]);
    expect(draw(mulberry32(2 ** 32 + 5), 4)).toEqual(draw(mulberry32(5), 4));
    const xs = draw(mulberry32(7), 10000);
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.02);
  });
});

describeBackends('withSeededRandom', () => {
  it('makes unseeded initialisers repeatable and restores Math.random, also after a throw', async () => {
    const original = Math.random;
    const before = tf.memory().numTensors;
    const weights = async (seed: number) => {
      const layer = withSeededRandom(seed, () => new Linear(5, 3)); // no seed: tfjs's Math.random-seeded generators
      const w = Array.from(await layer.weight.data());
      layer.dispose();
      return w;
    };
    const a = await weights(11);
    expect(await weights(11)).toEqual(a);
    expect(await weights(12)).not.toEqual(a);
    expect(tf.memory().numTensors).toBe(before);
    expect(Math.random).toBe(original);
    expect(() => withSeededRandom(1, () => { throw new Error('boom'); })).toThrow('boom');
    expect(Math.random).toBe(original);
    expect(() => withSeededRandom(1, () => Promise.resolve(1))).toThrow(/synchronous/);
    expect(Math.random).toBe(original);
    expect(withSeededRandom(3, () => [Math.random(), Math.random()])).toEqual(draw(mulberry32(3), 2));
  });
}, { backends: ['cpu'] });


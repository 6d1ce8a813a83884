import { expect, it, describe } from 'vitest';
import { fmix32, proceduralStore, proceduralValues } from '@fae/eval';

// Expected values computed independently with numpy from the formula in the fixtures README:
// float32(offset + scale * (2 * fmix32((i * 0x9E3779B1 + seed * 0x85EBCA77) % 2**32) / 2**32 - 1)).
describe('procedural weights', () => {
  it('matches an independent numpy evaluation of the fixtures formula', () => {
    const a = proceduralValues({ shape: [81], seed: 1000, offset: 0, scale: 1 / 3 });
    expect([a[0], a[1], a[2], a[80]]).toEqual([-0.028036056086421013, -0.236021026968956, 0.0024648301769047976, 0.259184330701828]);
    const v = proceduralValues({ shape: [32], seed: 1004, offset: 1, scale: 0.5 });
    expect([v[0], v[31]]).toEqual([0.5836194753646851, 0.9515513777732849]);
    const big = proceduralValues({ shape: [1008, 2048], seed: 1564, offset: 0, scale: 0.038273277230987154 });
    expect(big[2064383]).toBe(-0.007337137125432491);
  });

  it('fmix32 is murmur3 finaliser (0 -> 0, avalanche on 1)', () => {
    expect(fmix32(0)).toBe(0);
    expect(fmix32(1)).toBe(0x514e28b7);
  });

  it('a store exposes names, shapes and values on demand', async () => {
    const store = proceduralStore({ w: { shape: [2, 3], seed: 7, offset: 0.5, scale: 0.1 } }, 'spec.json');
    expect(store.keys()).toEqual(['w']);
    expect(store.info('w')).toEqual({ dtype: 'F32', shape: [2, 3] });
    const data = await store.read('w');
    expect(data).toHaveLength(6);
    for (const x of data as Float32Array) expect(Math.abs(x - 0.5)).toBeLessThanOrEqual(0.1);
    expect(() => proceduralStore({ bad: { shape: [1] } as never })).toThrow(/needs \{shape, seed, offset, scale\}/);
  });
});

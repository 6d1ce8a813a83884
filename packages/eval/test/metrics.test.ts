import { describe, expect, it } from 'vitest';
import { describeBackends, expectNoLeaks, ref64 } from '@fae/testing';
import { inceptionScore, precisionRecall } from '@fae/eval';

describe('Inception Score', () => {
  it('is 1 when every prediction is the same, C when confident predictions cover C classes evenly', () => {
    const C = 5;
    const same = Float64Array.from({ length: 20 * C }, (_, i) => (i % C === 2 ? 3 : 0));
    expect(inceptionScore(same, C, { splits: 2 }).mean).toBeCloseTo(1, 12);
    // one-hot-like logits (probability ~1 on class i % C): KL(p || uniform) = log C per sample
    const confident = Float64Array.from({ length: 20 * C }, (_, i) => (i % C === Math.floor(i / C) % C ? 200 : 0));
    const r = inceptionScore(confident, C, { splits: 4 });
    expect(r.mean).toBeCloseTo(C, 10);
    expect(r.std).toBeCloseTo(0, 10);
    expect(r.scores).toHaveLength(4);
  });

  it('splits rows as torch-fidelity: floor(k N / splits)', () => {
    // 7 rows, 3 splits: [0, 2), [2, 4), [4, 7). Rows 0-1 class 0, 2-3 class 1, 4-6 classes 0,1,2.
    const C = 3;
    const cls = [0, 0, 1, 1, 0, 1, 2];
    const logits = Float64Array.from({ length: 7 * C }, (_, i) => (cls[Math.floor(i / C)] === i % C ? 300 : 0));
    const r = inceptionScore(logits, C, { splits: 3 });
    expect(r.scores[0]).toBeCloseTo(1, 10);
    expect(r.scores[1]).toBeCloseTo(1, 10);
    expect(r.scores[2]).toBeCloseTo(3, 10);
  });
});

describeBackends('precision / recall', () => {
  it("the backend ('tf', float32) and float64 ('js') paths agree; identical sets give 1 / 1", async () => {
    const real = { data: ref64.randomNd([120, 16], 5).data, rows: 120, dim: 16 };
    const fake = { data: Float64Array.from(ref64.randomNd([90, 16], 6).data, (v) => 1.3 * v + 0.2), rows: 90, dim: 16 };
    const js = await precisionRecall(real, fake, { compute: 'js' });
    const t = await expectNoLeaks(() => precisionRecall(real, fake, { compute: 'tf', blockRows: 32 }));
    expect(t.precision).toBeCloseTo(js.precision, 10);
    expect(t.recall).toBeCloseTo(js.recall, 10);
    for (const v of [js.precision, js.recall]) expect(v >= 0 && v <= 1).toBe(true);
    // half of the generated points copy real ones (inside their balls), half are far away: precision 1/2
    const half = Float64Array.from({ length: 90 * 16 }, (_, i) => (i < 45 * 16 ? real.data[i] + 1e-6 : 100 + real.data[i]));
    const p = await precisionRecall(real, { data: half, rows: 90, dim: 16 }, { compute: 'tf' });
    expect(p.precision).toBe(0.5);
    const same = await precisionRecall(real, real, { compute: 'tf' });
    expect([same.precision, same.recall]).toEqual([1, 1]);
    const swapped = await precisionRecall(real, fake, { compute: 'js', convention: 'torch-fidelity' });
    expect([swapped.precision, swapped.recall]).toEqual([js.recall, js.precision]);
  });
});

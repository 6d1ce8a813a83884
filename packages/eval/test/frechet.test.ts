import { describe, expect, it } from 'vitest';
import { describeFixture, ref64, ref64eval } from '@fae/testing';
import { frechetDistance, frechetDistanceDetails, pivotedCholesky, symmetricEigen, symmetricEigenvalues, traceSqrtProduct } from '@fae/eval';
import { runMetricsFixture } from '@fae/testing/parity/handlers/metrics.js';

/** Random symmetric n x n with entries in [-1, 1]. */
function randomSymmetric(n: number, seed: number): Float64Array {
  const r = ref64.randomNd([n, n], seed).data;
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i * n + j] = (r[i * n + j] + r[j * n + i]) / 2;
  return a;
}

/** A A^T / k for a random [n, k] A: PSD of rank min(n, k). */
function randomCovariance(n: number, k: number, seed: number): Float64Array {
  const A = ref64.randomNd([n, k], seed).data;
  const s = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    let t = 0;
    for (let c = 0; c < k; c++) t += A[i * k + c] * A[j * k + c];
    s[i * n + j] = t / k;
  }
  return s;
}

/** Q diag(d) Q^T for an orthogonal Q from Gram-Schmidt. */
function withEigenvalues(d: number[], seed: number): { m: Float64Array; q: Float64Array } {
  const n = d.length;
  const q = Float64Array.from(ref64.randomNd([n, n], seed).data);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) {
      let dot = 0;
      for (let k = 0; k < n; k++) dot += q[i * n + k] * q[j * n + k];
      for (let k = 0; k < n; k++) q[i * n + k] -= dot * q[j * n + k];
    }
    const norm = Math.hypot(...q.subarray(i * n, (i + 1) * n));
    for (let k = 0; k < n; k++) q[i * n + k] /= norm;
  }
  const m = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) for (let k = 0; k < n; k++) m[i * n + j] += q[k * n + i] * d[k] * q[k * n + j];
  return { m, q };
}

describe('symmetric eigensolver (Householder + implicit QL)', () => {
  it('eigenvalues match cyclic Jacobi on random symmetric matrices', () => {
    for (const [n, seed] of [[1, 1], [2, 2], [7, 3], [40, 4]]) {
      const a = randomSymmetric(n, seed);
      const got = Float64Array.from(symmetricEigenvalues(a, n)).sort();
      const ref = ref64eval.jacobiEigenvalues(a, n);
      for (let i = 0; i < n; i++) expect(Math.abs(got[i] - ref[i])).toBeLessThan(1e-12 * Math.max(1, Math.abs(ref[i])) * n);
    }
  });

  it('eigenvectors reconstruct the matrix, including repeated eigenvalues', () => {
    const n = 12;
    const d = [3, 3, 3, 1, 1, 0, 0, 0, 2, -1, 5, 0.5];
    const { m } = withEigenvalues(d, 9);
    const { values, vectors } = symmetricEigen(m, n);
    expect(Float64Array.from(values).sort()).toEqual(expect.any(Float64Array));
    const sorted = Array.from(values).sort((x, y) => x - y);
    const want = [...d].sort((x, y) => x - y);
    sorted.forEach((v, i) => expect(Math.abs(v - want[i])).toBeLessThan(1e-12));
    // V^T diag(values) V = m, V V^T = I
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      let s = 0, o = 0;
      for (let k = 0; k < n; k++) {
        s += vectors[k * n + i] * values[k] * vectors[k * n + j];
        o += vectors[i * n + k] * vectors[j * n + k];
      }
      expect(Math.abs(s - m[i * n + j])).toBeLessThan(1e-12);
      expect(Math.abs(o - (i === j ? 1 : 0))).toBeLessThan(1e-12);
    }
  });

  it('pivoted Cholesky finds the rank of a PSD matrix and reproduces it', () => {
    const n = 30;
    const s = randomCovariance(n, 6, 5);
    const { rank, perm, l } = pivotedCholesky(s, n);
    expect(rank).toBe(6);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      let t = 0;
      for (let k = 0; k < rank; k++) t += l[i * n + k] * l[j * n + k];
      expect(Math.abs(t - s[perm[i] * n + perm[j]])).toBeLessThan(1e-13);
      if (j > i) expect(l[i * n + j]).toBe(0);
    }
  });
});

describe('Frechet distance', () => {
  it('equals the closed form for commuting covariances (full rank and singular)', () => {
    const n = 16;
    const d1 = Array.from({ length: n }, (_, i) => (i < 5 ? 0 : 0.5 + i / 4)); // rank 11
    const d2 = Array.from({ length: n }, (_, i) => 1 + Math.sin(i) ** 2);
    for (const [a, b] of [[d1, d2], [d2, d1], [d2, d2.map((v) => v * 3)]]) {
      const { m: s1, q } = withEigenvalues(a, 21);
      const s2 = new Float64Array(n * n);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) for (let k = 0; k < n; k++) s2[i * n + j] += q[k * n + i] * b[k] * q[k * n + j];
      const mu1 = Float64Array.from({ length: n }, (_, i) => i / 10);
      const mu2 = Float64Array.from({ length: n }, (_, i) => Math.cos(i));
      let want = 0;
      for (let i = 0; i < n; i++) want += (mu1[i] - mu2[i]) ** 2 + a[i] + b[i] - 2 * Math.sqrt(a[i] * b[i]);
      for (const method of ['auto', 'eigen'] as const) {
        const got = frechetDistance({ mu: mu1, sigma: s1 }, { mu: mu2, sigma: s2 }, { method });
        expect(Math.abs(got - want) / want).toBeLessThan(1e-10);
      }
    }
  });

  it('the pivoted-Cholesky and eigen routes agree on random covariances, and rank-deficient ones stay cheap', () => {
    const n = 48;
    for (const k of [100, 20, 2]) {
      const s1 = randomCovariance(n, k, 31 + k);
      const s2 = randomCovariance(n, 80, 32 + k);
      const c = traceSqrtProduct(s1, s2, n, 'cholesky');
      const e = traceSqrtProduct(s1, s2, n, 'eigen');
      expect(c.rank).toBe(Math.min(n, k));
      expect(Math.abs(c.value - e.value) / e.value).toBeLessThan(1e-9);
    }
  });

  it('FID is 0 for identical statistics and symmetric in its arguments', () => {
    const n = 20;
    const a = { mu: Float64Array.from(ref64.randomNd([n], 1).data), sigma: randomCovariance(n, 50, 2) };
    const b = { mu: Float64Array.from(ref64.randomNd([n], 3).data), sigma: randomCovariance(n, 50, 4) };
    expect(Math.abs(frechetDistance(a, a))).toBeLessThan(1e-12);
    expect(Math.abs(frechetDistance(a, b) - frechetDistance(b, a))).toBeLessThan(1e-12);
    expect(() => frechetDistance(a, { mu: new Float64Array(3), sigma: new Float64Array(9) })).toThrow(/same dimension/);
  });
});

describeFixture('metrics fixture', ['eval', 'metrics'], (dir) => {
  describe('torch-fidelity FID / IS / precision-recall (float64)', () => {
    it('every metric matches meta.json to 1e-6 relative', async () => {
      const outputs = await runMetricsFixture(dir);
      expect(outputs.length).toBe(7);
      for (const o of outputs) expect(o.rel, `${o.name}: ${o.note}`).toBeLessThanOrEqual(1e-6);
      const fid = outputs.find((o) => o.name === 'fid')!;
      expect(fid.rel).toBeLessThan(1e-12); // float64 end to end
    });
  });
});

describe('Frechet distance at 2048 dimensions', () => {
  it.skipIf(!process.env.FAE_EVAL_SLOW)('keeps full rank at Inception width (skipped unless FAE_EVAL_SLOW=1: two 2048-d covariances of 2,200 samples take minutes here)', () => {
    const n = 2048;
    const s1 = randomCovariance(n, 2200, 1);
    const s2 = randomCovariance(n, 2200, 2);
    const d = frechetDistanceDetails({ mu: new Float64Array(n), sigma: s1 }, { mu: new Float64Array(n), sigma: s2 });
    console.log(`2048-d Frechet distance: ${d.ms.toFixed(0)} ms (${d.method}, rank ${d.rank})`);
    expect(d.rank).toBe(n);
  }, 600_000);
});

// Frechet distance between two Gaussians, in float64:
//   d^2 = |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr sqrtm(S1 S2)
// tr sqrtm(S1 S2) is the sum of the square roots of the eigenvalues of S1 S2, which are those of a
// symmetric PSD matrix similar to it: R S2 R^T with S1 = R^T R (pivoted Cholesky, which also handles
// singular S1 such as covariances of fewer samples than dimensions, as a thin R), or
// D^1/2 V S2 V^T D^1/2 with S1 = V^T D V (eigen-decomposition, an independent second route). This
// is what torch-fidelity computes (sum sqrt(eigvals(S1 S2)).real) and agrees with
// scipy.linalg.sqrtm's trace to rounding, without complex arithmetic.
import { ConfigError, ShapeError } from '@fae/core';
import { pivotedCholesky, symmetricEigen, symmetricEigenvalues } from '../linalg/symmetric-eigen.js';
import { compactLeading, mulFull, mulFullLower, mulLowerTransposedLowerHalf, mulTransposedLowerHalf, permuteSymmetric, trace } from '../linalg/dense.js';

/** Mean and covariance of a feature set (covariance row-major dim x dim, unbiased as np.cov). */
export interface GaussianStats {
  mu: Float64Array;
  sigma: Float64Array;
}

export type SqrtTraceMethod = 'auto' | 'cholesky' | 'eigen';

export interface FrechetDetails {
  distance: number;
  /** |mu1 - mu2|^2 */
  meanTerm: number;
  /** tr(S1) + tr(S2) - 2 tr sqrtm(S1 S2) */
  covarianceTerm: number;
  traceSqrt: number;
  method: 'cholesky' | 'eigen';
  /** Numerical rank of the first covariance. */
  rank: number;
  ms: number;
}

function dimOf(s: GaussianStats, name: string): number {
  const n = s.mu.length;
  if (s.sigma.length !== n * n) throw new ShapeError(`${name}.sigma`, `${n}x${n} values for a ${n}-d mean`, `${s.sigma.length} values`);
  for (let i = 0; i < s.sigma.length; i++) if (!Number.isFinite(s.sigma[i])) throw new ConfigError(name, `sigma has a non-finite value at index ${i}`);
  for (let i = 0; i < n; i++) if (!Number.isFinite(s.mu[i])) throw new ConfigError(name, `mu has a non-finite value at index ${i}`);
  return n;
}

/**
 * sum_i sqrt(lambda_i) over the eigenvalues of a symmetric PSD matrix (lower triangle read). Eigenvalues
 * at rounding level (|lambda| <= n eps max|lambda|, where a singular product's zeros land) count as 0,
 * so their square roots (~1e-8) do not add up into the trace.
 */
function sumSqrtEigenvalues(m: Float64Array, n: number): number {
  const values = symmetricEigenvalues(m, n);
  const tol = n * Number.EPSILON * values.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
  let t = 0;
  for (const v of values) if (v > tol) t += Math.sqrt(v);
  return t;
}

/**
 * tr sqrtm(S1 S2) for symmetric PSD S1, S2 (n x n, row-major).
 *   'cholesky' (used by 'auto'): S1[P][:, P] = L L^T by pivoted Cholesky (L is n x rank), eigenvalues
 *              of L^T S2[P][:, P] L (rank x rank).
 *   'eigen'  : S1 = V^T D V (full eigen-decomposition), eigenvalues of D^1/2 V S2 V^T D^1/2. Slower;
 *              kept as an independent route for checks.
 */
export function traceSqrtProduct(s1: Float64Array, s2: Float64Array, n: number, method: SqrtTraceMethod = 'auto'): { value: number; method: 'cholesky' | 'eigen'; rank: number } {
  if (method !== 'eigen') {
    const { rank, perm, l } = pivotedCholesky(s1, n);
    if (rank === 0) return { value: 0, method: 'cholesky', rank };
    const lower = mulLowerTransposedLowerHalf(l, mulFullLower(permuteSymmetric(s2, n, perm), l, n, rank), n, rank); // L^T S2' L, lower half (n x n, zero beyond rank)
    const m = rank === n ? lower : compactLeading(lower, n, rank);
    return { value: sumSqrtEigenvalues(m, rank), method: 'cholesky', rank };
  }
  const { values, vectors } = symmetricEigen(s1, n); // S1 = V^T diag(values) V with eigenvectors as rows of `vectors`
  const m = mulTransposedLowerHalf(mulFull(vectors, s2, n), vectors, n); // V S2 V^T, lower half
  // eigenvalues below the pivoted-Cholesky tolerance (n eps max) are rounding noise of a singular S1
  const tol = n * Number.EPSILON * values.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const sq = new Float64Array(n);
  let rank = 0;
  for (let i = 0; i < n; i++) {
    sq[i] = values[i] > tol ? Math.sqrt(values[i]) : 0;
    if (values[i] > tol) rank++;
  }
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) m[i * n + j] *= sq[i] * sq[j];
  return { value: sumSqrtEigenvalues(m, n), method: 'eigen', rank };
}

/** Frechet distance with its parts and timing. */
export function frechetDistanceDetails(a: GaussianStats, b: GaussianStats, opts: { method?: SqrtTraceMethod } = {}): FrechetDetails {
  const t0 = performance.now();
  const n = dimOf(a, 'first statistics');
  const nb = dimOf(b, 'second statistics');
  if (n !== nb) throw new ShapeError('frechetDistance', `statistics of the same dimension (first is ${n})`, `${nb}`);
  let meanTerm = 0;
  for (let i = 0; i < n; i++) meanTerm += (a.mu[i] - b.mu[i]) ** 2;
  const { value: traceSqrt, method, rank } = traceSqrtProduct(a.sigma, b.sigma, n, opts.method);
  const covarianceTerm = trace(a.sigma, n) + trace(b.sigma, n) - 2 * traceSqrt;
  return { distance: meanTerm + covarianceTerm, meanTerm, covarianceTerm, traceSqrt, method, rank, ms: performance.now() - t0 };
}

/** Frechet distance (FID when the statistics are Inception pool3 features; sFID for the spatial ones). */
export function frechetDistance(a: GaussianStats, b: GaussianStats, opts: { method?: SqrtTraceMethod } = {}): number {
  return frechetDistanceDetails(a, b, opts).distance;
}

// Float64 dense linear algebra for the Frechet distance, in plain JS (row-major Float64Array n x n):
// Cholesky, Householder tridiagonalisation and the implicit QL algorithm with Wilkinson-style shifts
// (the classical EISPACK route: O(n^3) with a small constant, backward stable). Loops are arranged so
// the innermost one walks contiguous memory.
import { ConfigError } from '@fae/core';

export type SquareMatrix = Float64Array; // n x n, row-major

/** Lower-triangular Cholesky factor L (A = L L^T), or null when A is not numerically positive definite. */
export function cholesky(a: SquareMatrix, n: number): SquareMatrix | null {
  const L = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    for (let j = 0; j <= i; j++) {
      const rj = j * n;
      let s = a[ri + j];
      for (let k = 0; k < j; k++) s -= L[ri + k] * L[rj + k];
      if (i === j) {
        if (!(s > 0)) return null;
        L[ri + i] = Math.sqrt(s);
      } else {
        L[ri + j] = s / L[rj + j];
      }
    }
  }
  return L;
}

export interface PivotedCholesky {
  /** Numerical rank r. */
  rank: number;
  /** Pivot order: position k of the factor is row/column perm[k] of A. */
  perm: Int32Array;
  /** L, n x n row-major, lower trapezoidal (columns >= rank are 0): A[perm][:, perm] ~= L L^T. */
  l: Float64Array;
}

/**
 * Cholesky with diagonal pivoting for symmetric positive SEMI-definite A (LAPACK pstrf's rule): stops
 * when the largest remaining pivot is <= tol (default n * eps * max diag(A)), so a covariance of
 * fewer samples than dimensions factors as a thin L (n x rank). Rows and columns are swapped as they
 * are pivoted, so every inner loop is a contiguous dot product: ~n r^2 / 2 multiply-adds.
 */
export function pivotedCholesky(a: SquareMatrix, n: number, tol?: number): PivotedCholesky {
  const w = Float64Array.from(a); // working copy, permuted in place (lower triangle used)
  const L = new Float64Array(n * n);
  const d = new Float64Array(n);
  let maxDiag = 0;
  for (let i = 0; i < n; i++) {
    d[i] = w[i * n + i];
    maxDiag = Math.max(maxDiag, d[i]);
  }
  const stop = tol ?? n * Number.EPSILON * maxDiag;
  const perm = Int32Array.from({ length: n }, (_, i) => i);
  const swapRowsCols = (x: Float64Array, i: number, j: number) => {
    const ri = i * n, rj = j * n;
    for (let c = 0; c < n; c++) [x[ri + c], x[rj + c]] = [x[rj + c], x[ri + c]];
    for (let r = 0; r < n; r++) [x[r * n + i], x[r * n + j]] = [x[r * n + j], x[r * n + i]];
  };
  let rank = 0;
  for (let k = 0; k < n; k++) {
    let p = k;
    for (let j = k + 1; j < n; j++) if (d[j] > d[p]) p = j;
    if (!(d[p] > stop)) break;
    if (p !== k) {
      swapRowsCols(w, k, p);
      const rk = k * n, rp = p * n; // computed columns of L: swap rows k and p (first k entries)
      for (let c = 0; c < k; c++) [L[rk + c], L[rp + c]] = [L[rp + c], L[rk + c]];
      [d[k], d[p]] = [d[p], d[k]];
      [perm[k], perm[p]] = [perm[p], perm[k]];
    }
    const rk = k * n;
    const lkk = Math.sqrt(d[k]);
    L[rk + k] = lkk;
    for (let i = k + 1; i < n; i++) {
      const ri = i * n;
      let s = w[ri + k];
      for (let c = 0; c < k; c++) s -= L[ri + c] * L[rk + c];
      const lik = s / lkk;
      L[ri + k] = lik;
      d[i] -= lik * lik;
    }
    rank++;
  }
  return { rank, perm, l: L };
}

export interface Tridiagonal {
  /** Diagonal, length n. */
  d: Float64Array;
  /** Off-diagonal: e[i] couples i and i+1; e[n-1] = 0. */
  e: Float64Array;
  /** Q with A = Q T Q^T, stored transposed (row i = column i of Q), when asked for. */
  qt?: SquareMatrix;
}

/**
 * Householder reduction of a symmetric matrix to tridiagonal form T = Q^T A Q. Reads the lower
 * triangle of `a` (which it overwrites). ~(4/3) n^3 flops, or ~(8/3) n^3 with Q.
 */
export function tridiagonalize(a: SquareMatrix, n: number, wantQ = false): Tridiagonal {
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  const betas = new Float64Array(n);
  const p = new Float64Array(n);
  const v = new Float64Array(n); // the current Householder vector, contiguous
  for (let k = 0; k < n - 2; k++) {
    // x = A[k+1.., k] (lower triangle: column k below the diagonal)
    let norm2 = 0;
    for (let i = k + 1; i < n; i++) {
      v[i] = a[i * n + k];
      norm2 += v[i] * v[i];
    }
    const x0 = v[k + 1];
    d[k] = a[k * n + k];
    if (norm2 === 0) {
      e[k] = 0;
      betas[k] = 0;
      continue;
    }
    const alpha = x0 > 0 ? -Math.sqrt(norm2) : Math.sqrt(norm2);
    // v = x - alpha e1 (also stored in place of column k, rows k+1..n-1, to build Q later)
    v[k + 1] = x0 - alpha;
    a[(k + 1) * n + k] = v[k + 1];
    const vtv = norm2 - x0 * x0 + v[k + 1] * v[k + 1];
    const beta = 2 / vtv;
    betas[k] = beta;
    e[k] = alpha;
    // p = beta * S v over the trailing block S = A[k+1.., k+1..], using its lower triangle
    for (let i = k + 1; i < n; i++) p[i] = 0;
    for (let i = k + 1; i < n; i++) {
      const ri = i * n;
      const vi = v[i];
      let s = 0;
      for (let j = k + 1; j < i; j++) {
        const sij = a[ri + j];
        s += sij * v[j];
        p[j] += sij * vi;
      }
      p[i] += s + a[ri + i] * vi;
    }
    let vtp = 0;
    for (let i = k + 1; i < n; i++) {
      p[i] *= beta;
      vtp += v[i] * p[i];
    }
    const K = (beta * vtp) / 2;
    for (let i = k + 1; i < n; i++) p[i] -= K * v[i]; // w = p - K v
    // S -= v w^T + w v^T (lower triangle)
    for (let i = k + 1; i < n; i++) {
      const ri = i * n;
      const vi = v[i];
      const wi = p[i];
      for (let j = k + 1; j <= i; j++) a[ri + j] -= vi * p[j] + wi * v[j];
    }
  }
  if (n >= 2) {
    d[n - 2] = a[(n - 2) * n + n - 2];
    e[n - 2] = a[(n - 1) * n + n - 2];
  }
  if (n >= 1) d[n - 1] = a[(n - 1) * n + n - 1];
  if (!wantQ) return { d, e };
  // Q = H_0 H_1 ... H_{n-3}, built right to left on the identity; stored transposed (qt = Q^T) so the
  // reflector updates and, later, the QL rotations touch contiguous rows.
  const qt = new Float64Array(n * n);
  for (let i = 0; i < n; i++) qt[i * n + i] = 1;
  const r = new Float64Array(n);
  for (let k = n - 3; k >= 0; k--) {
    const beta = betas[k];
    if (beta === 0) continue;
    for (let i = k + 1; i < n; i++) v[i] = a[i * n + k];
    // Q^T <- Q^T H_k = Q^T - beta (Q^T v) v^T applied to rows/cols k+1.. : row i of Q^T: q_i -= beta (q_i . v) v
    for (let i = k + 1; i < n; i++) {
      const ri = i * n;
      let s = 0;
      for (let j = k + 1; j < n; j++) s += qt[ri + j] * v[j];
      r[i] = beta * s;
    }
    for (let i = k + 1; i < n; i++) {
      const ri = i * n;
      const ri2 = r[i];
      if (ri2 === 0) continue;
      for (let j = k + 1; j < n; j++) qt[ri + j] -= ri2 * v[j];
    }
  }
  // qt currently holds (H_k ... ) accumulated as rows = Q^T? We applied X <- X H_k for k descending,
  // starting from I, i.e. X = H_{n-3} ... H_0 = Q^T. Rows of X are the columns of Q.
  return { d, e, qt };
}

/**
 * Eigenvalues (and, when `zt` is given, eigenvectors) of the symmetric tridiagonal (d, e) by the
 * implicit QL method. `zt`: Q^T from tridiagonalize (rows rotated in place); on return row i is the
 * eigenvector of eigenvalue d[i]. d and e are overwritten (d = eigenvalues, unsorted).
 */
export function tridiagonalQL(d: Float64Array, e: Float64Array, zt?: SquareMatrix): Float64Array {
  const n = d.length;
  const eps = Number.EPSILON;
  for (let l = 0; l < n; l++) {
    let iter = 0;
    let m: number;
    do {
      for (m = l; m < n - 1; m++) {
        const dd = Math.abs(d[m]) + Math.abs(d[m + 1]);
        if (Math.abs(e[m]) <= eps * dd) break;
      }
      if (m !== l) {
        if (iter++ === 100) throw new ConfigError('tridiagonalQL', `no convergence for eigenvalue ${l} after 100 iterations`);
        let g = (d[l + 1] - d[l]) / (2 * e[l]);
        let r = Math.hypot(g, 1);
        g = d[m] - d[l] + e[l] / (g + (g >= 0 ? Math.abs(r) : -Math.abs(r)));
        let s = 1;
        let c = 1;
        let p = 0;
        let i: number;
        let underflow = false;
        for (i = m - 1; i >= l; i--) {
          const f = s * e[i];
          const b = c * e[i];
          r = Math.hypot(f, g);
          e[i + 1] = r;
          if (r === 0) {
            d[i + 1] -= p;
            e[m] = 0;
            underflow = true;
            break;
          }
          s = f / r;
          c = g / r;
          g = d[i + 1] - p;
          r = (d[i] - g) * s + 2 * c * b;
          p = s * r;
          d[i + 1] = g + p;
          g = c * r - b;
          if (zt) {
            const ra = i * n;
            const rb = (i + 1) * n;
            for (let k = 0; k < n; k++) {
              const zb = zt[rb + k];
              const za = zt[ra + k];
              zt[rb + k] = s * za + c * zb;
              zt[ra + k] = c * za - s * zb;
            }
          }
        }
        if (underflow) continue;
        d[l] -= p;
        e[l] = g;
        e[m] = 0;
      }
    } while (m !== l);
  }
  return d;
}

/** Eigenvalues of a symmetric matrix (lower triangle read; `a` is not modified). */
export function symmetricEigenvalues(a: SquareMatrix, n: number): Float64Array {
  const work = Float64Array.from(a);
  const { d, e } = tridiagonalize(work, n, false);
  return tridiagonalQL(d, e);
}

/** Eigen-decomposition of a symmetric matrix: values[i] with eigenvector row i of `vectors` (row-major). */
export function symmetricEigen(a: SquareMatrix, n: number): { values: Float64Array; vectors: SquareMatrix } {
  const work = Float64Array.from(a);
  const { d, e, qt } = tridiagonalize(work, n, true);
  tridiagonalQL(d, e, qt);
  return { values: d, vectors: qt! };
}

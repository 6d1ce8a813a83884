// Dense float64 products used by the Frechet distance (row-major n x n, innermost loops contiguous).

/** Rows per cache block: a block of output rows (<= 512 KB at n = 2048) stays in L2 while each row of the right factor is reused for all of them. */
const BLOCK = 32;

/** B = S L for a full S and lower-triangular (or lower-trapezoidal, `cols` columns) L. */
export function mulFullLower(s: Float64Array, L: Float64Array, n: number, cols = n): Float64Array {
  const out = new Float64Array(n * n);
  for (let i0 = 0; i0 < n; i0 += BLOCK) {
    const i1 = Math.min(n, i0 + BLOCK);
    for (let k = 0; k < n; k++) {
      const rk = k * n;
      const end = Math.min(k, cols - 1);
      for (let i = i0; i < i1; i++) {
        const sik = s[i * n + k];
        if (sik === 0) continue;
        const ri = i * n;
        for (let j = 0; j <= end; j++) out[ri + j] += sik * L[rk + j];
      }
    }
  }
  return out;
}

/** Lower triangle of M = L^T B (symmetric when B = S L with S symmetric; L with `cols` columns); upper triangle left 0. */
export function mulLowerTransposedLowerHalf(L: Float64Array, b: Float64Array, n: number, cols = n): Float64Array {
  const out = new Float64Array(n * n);
  const m = Math.min(n, cols);
  for (let i0 = 0; i0 < m; i0 += BLOCK) {
    const i1 = Math.min(m, i0 + BLOCK);
    for (let k = i0; k < n; k++) {
      const rk = k * n;
      const end = Math.min(k + 1, i1);
      for (let i = i0; i < end; i++) {
        const lki = L[rk + i];
        if (lki === 0) continue;
        const ri = i * n;
        for (let j = 0; j <= i; j++) out[ri + j] += lki * b[rk + j];
      }
    }
  }
  return out;
}

/** C = A B for full matrices. */
export function mulFull(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i0 = 0; i0 < n; i0 += BLOCK) {
    const i1 = Math.min(n, i0 + BLOCK);
    for (let k = 0; k < n; k++) {
      const rk = k * n;
      for (let i = i0; i < i1; i++) {
        const aik = a[i * n + k];
        if (aik === 0) continue;
        const ri = i * n;
        for (let j = 0; j < n; j++) out[ri + j] += aik * b[rk + j];
      }
    }
  }
  return out;
}

/** Lower triangle of C = A B^T (dot products of rows; symmetric when the product is). */
export function mulTransposedLowerHalf(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    for (let j = 0; j <= i; j++) {
      const rj = j * n;
      let s = 0;
      for (let k = 0; k < n; k++) s += a[ri + k] * b[rj + k];
      out[ri + j] = s;
    }
  }
  return out;
}

export function trace(a: Float64Array, n: number): number {
  let t = 0;
  for (let i = 0; i < n; i++) t += a[i * n + i];
  return t;
}

/** The leading r x r block of an n x n row-major matrix. */
export function compactLeading(m: Float64Array, n: number, r: number): Float64Array {
  const out = new Float64Array(r * r);
  for (let i = 0; i < r; i++) out.set(m.subarray(i * n, i * n + r), i * r);
  return out;
}

/** S[perm][:, perm] */
export function permuteSymmetric(s: Float64Array, n: number, perm: Int32Array): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const src = perm[i] * n;
    const dst = i * n;
    for (let j = 0; j < n; j++) out[dst + j] = s[src + perm[j]];
  }
  return out;
}

// Pure-JS int8 helpers: the packing every int8 kernel reads (4 signed bytes per 32-bit word, little
// endian, rows along K), symmetric per-row quantisation in float64, and an exact integer matrix
// product (the reference the GPU GEMMs are checked against: int32 accumulation of int8 products is
// exact while |sum| < 2^31, i.e. K < 2^31 / 127^2 = 133,000).

/** Words per packed row of K int8 values (the tail of the last word is zero). */
export function packedWords(k: number): number {
  return Math.ceil(k / 4);
}

/**
 * Packs int8 rows: `values` [rows, k] (each in [-128, 127]) -> Int32Array [rows, ceil(k/4)], value
 * (r, c) in byte c % 4 of word (r, c / 4), two's complement; the padding bytes are 0.
 */
export function packInt8Rows(values: ArrayLike<number>, rows: number, k: number): Int32Array {
  if (values.length !== rows * k) throw new RangeError(`packInt8Rows: ${values.length} values for [${rows}, ${k}]`);
  const kw = packedWords(k);
  const out = new Int32Array(rows * kw);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < k; c++) {
      const v = values[r * k + c];
      if (!Number.isInteger(v) || v < -128 || v > 127) throw new RangeError(`packInt8Rows: value ${v} at [${r}, ${c}] is not an int8`);
      out[r * kw + (c >> 2)] |= (v & 0xff) << (8 * (c & 3));
    }
  }
  return out;
}

/** Inverse of packInt8Rows: Int32Array [rows, ceil(k/4)] -> Int8Array [rows, k]. */
export function unpackInt8Rows(packed: ArrayLike<number>, rows: number, k: number): Int8Array {
  const kw = packedWords(k);
  const out = new Int8Array(rows * k);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < k; c++) out[r * k + c] = (packed[r * kw + (c >> 2)] >> (8 * (c & 3))) << 24 >> 24;
  }
  return out;
}

/** Exact C[m, n] = sum_k A[m, k] B[n, k] for int8 A [M, K] and B [N, K] (B as rows: the weight transposed). */
export function int8MatMulReference(a: ArrayLike<number>, b: ArrayLike<number>, m: number, n: number, k: number): Int32Array {
  const out = new Int32Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let c = 0; c < k; c++) s += a[i * k + c] * b[j * k + c];
      out[i * n + j] = s;
    }
  }
  return out;
}

/** Round half to even (WGSL's round()). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Largest magnitude the symmetric quantiser maps to (the grid is [-127, 127]; -128 is never produced). */
export const INT8_QMAX = 127;

/**
 * Symmetric per-row quantisation in float64: scale_r = max_c |x[r, c]| / 127 (1 for an all-zero row),
 * q = clamp(roundHalfEven(x / scale_r), -127, 127). x [rows, k] -> q [rows, k] int8, scales [rows].
 */
export function quantizeRowsReference(x: ArrayLike<number>, rows: number, k: number): { q: Int8Array; scales: Float64Array } {
  const q = new Int8Array(rows * k);
  const scales = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let amax = 0;
    for (let c = 0; c < k; c++) amax = Math.max(amax, Math.abs(x[r * k + c]));
    const s = amax > 0 ? amax / INT8_QMAX : 1;
    scales[r] = s;
    for (let c = 0; c < k; c++) q[r * k + c] = Math.max(-INT8_QMAX, Math.min(INT8_QMAX, roundHalfEven(x[r * k + c] / s)));
  }
  return { q, scales };
}

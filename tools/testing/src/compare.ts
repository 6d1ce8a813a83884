// Numeric comparison in the fixtures' convention: max|a - b| / max|b| <= rtol.
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';

export type Numeric = tf.Tensor | ArrayLike<number> | number[][] | number;

export interface CloseReport {
  maxAbs: number;
  rel: number;
  n: number;
}

export function flatten(x: ArrayLike<number> | number[][] | number): Float64Array {
  if (typeof x === 'number') return Float64Array.of(x);
  if (Array.isArray(x) && Array.isArray(x[0])) return Float64Array.from((x as number[][]).flat(Infinity as 1) as number[]);
  return Float64Array.from(x as ArrayLike<number>);
}

export async function values(x: Numeric): Promise<Float64Array> {
  if (x instanceof tf.Tensor) return Float64Array.from(await x.data() as ArrayLike<number>);
  return flatten(x);
}

/** max|a-b| and max|a-b| / max|b| (b is the reference). Sizes must match. */
export function relError(a: ArrayLike<number>, b: ArrayLike<number>): CloseReport {
  if (a.length !== b.length) throw new Error(`size mismatch: ${a.length} vs reference ${b.length}`);
  let maxAbs = 0;
  let maxRef = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= maxAbs)) maxAbs = Number.isNaN(d) ? Infinity : d;
    maxRef = Math.max(maxRef, Math.abs(b[i]));
  }
  return { maxAbs, rel: maxRef === 0 ? maxAbs : maxAbs / maxRef, n: a.length };
}

/** Asserts `actual` matches `expected` to `rtol` (relative to max|expected|); checks the shape of tensors. */
export async function expectClose(actual: Numeric, expected: Numeric, rtol = 1e-4, label = 'value'): Promise<CloseReport> {
  if (actual instanceof tf.Tensor && expected instanceof tf.Tensor) {
    expect(actual.shape, `${label}: shape`).toEqual(expected.shape);
  }
  const r = relError(await values(actual), await values(expected));
  if (!(r.rel <= rtol)) {
    throw new Error(`${label}: relative error ${r.rel.toExponential(3)} > ${rtol} (max abs ${r.maxAbs.toExponential(3)} over ${r.n} values)`);
  }
  return r;
}

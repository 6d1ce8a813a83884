// Int8 test data and an output error measure shared by the int8 tests (packages/core/test/int8-*) and
// the int8 benchmark (tools/bench/src/int8-bench.ts, which imports this file directly: no vitest here).
import * as tf from '@tensorflow/tfjs-core';

/** n deterministic int8 values (an LCG's high bits), the first -128 and the last 127: both extremes in every matrix. */
export function randomInt8(n: number, seed: number): Int8Array {
  const v = new Int8Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    v[i] = ((s >>> 16) % 256) - 128;
  }
  v[0] = -128;
  v[n - 1] = 127;
  return v;
}

/** ||a - b|| / ||b|| over all elements (b the reference). */
export async function relativeL2(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  const [x, y] = [await a.data(), await b.data()];
  if (x.length !== y.length) throw new Error(`relativeL2: ${x.length} vs ${y.length} values`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < x.length; i++) {
    num += (x[i] - y[i]) ** 2;
    den += y[i] ** 2;
  }
  return Math.sqrt(num / den);
}

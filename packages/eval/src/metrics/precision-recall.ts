// Improved precision and recall (Kynkaanniemi et al. 2019) as the ADM evaluator and torch-fidelity
// compute them: each set's k-NN radius per point (the k-th neighbour, self excluded, k = 3).
//   convention 'adm' (default; the ADM evaluator and the paper's definition):
//     precision = fraction of generated points inside at least one real point's ball,
//     recall    = fraction of real points inside at least one generated point's ball.
//   convention 'torch-fidelity': what torch_fidelity.calculate_metrics(input1=generated, input2=real,
//     prc=True) reports: its prc treats input1 as the reference set, so the two numbers are swapped
//     (precision = real points inside the generated manifold). The shared `metrics` fixture follows it.
// 'js': exact float64 distances (small sets, tests). 'tf': distances on the active tfjs backend in
// float32 blocks (|a|^2 + |b|^2 - 2 a.b, as the ADM evaluator), for 10k x 50k sets.
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError } from '@fae/core';

export interface PrecisionRecallOptions {
  /** Neighbourhood size (default 3). */
  k?: number;
  /** 'auto' picks 'js' below ~2e9 multiply-adds, else 'tf'. */
  compute?: 'auto' | 'js' | 'tf';
  /** Rows per block for 'tf' (default 1024). */
  blockRows?: number;
  /** 'adm' (default) or 'torch-fidelity' (see the file header). */
  convention?: 'adm' | 'torch-fidelity';
}

export interface PrecisionRecallResult {
  precision: number;
  recall: number;
  /** 2PR / max(1e-5, P + R), torch-fidelity's f_score */
  fScore: number;
}

export interface FeatureMatrix {
  data: ArrayLike<number>;
  rows: number;
  dim: number;
}

function check(m: FeatureMatrix, name: string): void {
  if (m.data.length !== m.rows * m.dim) throw new ShapeError(name, `[${m.rows}, ${m.dim}] row-major`, `${m.data.length} values`);
}

/** k-th smallest value of `row` (1-based k), by partial selection. */
function kthSmallest(row: Float64Array, k: number): number {
  const best = new Float64Array(k).fill(Infinity); // sorted ascending
  for (let i = 0; i < row.length; i++) {
    const v = row[i];
    if (v >= best[k - 1]) continue;
    let j = k - 1;
    while (j > 0 && best[j - 1] > v) {
      best[j] = best[j - 1];
      j--;
    }
    best[j] = v;
  }
  return best[k - 1];
}

function squaredDistancesJs(a: FeatureMatrix, i: number, b: FeatureMatrix, out: Float64Array): void {
  const D = a.dim;
  const ao = i * D;
  for (let j = 0; j < b.rows; j++) {
    const bo = j * D;
    let s = 0;
    for (let d = 0; d < D; d++) {
      const t = a.data[ao + d] - b.data[bo + d];
      s += t * t;
    }
    out[j] = s;
  }
}

/** Squared k-NN radius of every row of `a` within `a` (self excluded). */
function radiiJs(a: FeatureMatrix, k: number): Float64Array {
  const r = new Float64Array(a.rows);
  const row = new Float64Array(a.rows);
  for (let i = 0; i < a.rows; i++) {
    squaredDistancesJs(a, i, a, row);
    r[i] = kthSmallest(row, k + 1);
  }
  return r;
}

/** Fraction of rows of `q` within radius of some row of `ref` (squared distances). */
function coverageJs(q: FeatureMatrix, ref: FeatureMatrix, refRadii: Float64Array): number {
  const row = new Float64Array(ref.rows);
  let inside = 0;
  for (let i = 0; i < q.rows; i++) {
    squaredDistancesJs(q, i, ref, row);
    for (let j = 0; j < ref.rows; j++) {
      if (row[j] <= refRadii[j]) {
        inside++;
        break;
      }
    }
  }
  return inside / q.rows;
}

/** Squared distances of a block of rows of `a` to all rows of `b` on the backend. [rows, nb] */
function blockDistancesTf(a: tf.Tensor2D, b: tf.Tensor2D, bNorms: tf.Tensor): tf.Tensor2D {
  return tf.tidy(() => {
    const an = tf.sum(tf.square(a), 1, true); // [rows, 1]
    const d = tf.sub(tf.add(an, bNorms), tf.mul(2, tf.matMul(a, b, false, true))); // [rows, nb]
    return tf.relu(d) as tf.Tensor2D;
  });
}

async function radiiTf(a: tf.Tensor2D, k: number, block: number): Promise<Float32Array> {
  const n = a.shape[0];
  const out = new Float32Array(n);
  const norms = tf.tidy(() => tf.reshape(tf.sum(tf.square(a), 1), [1, n]));
  for (let s = 0; s < n; s += block) {
    const e = Math.min(n, s + block);
    const kth = tf.tidy(() => {
      const d = blockDistancesTf(tf.slice(a, [s, 0], [e - s, -1]), a, norms); // [rows, n]
      const { values } = tf.topk(tf.neg(d), k + 1); // k+1 smallest, self included
      return tf.neg(tf.slice(values, [0, k], [-1, 1])); // [rows, 1]
    });
    out.set((await kth.data()) as Float32Array, s);
    kth.dispose();
  }
  norms.dispose();
  return out;
}

async function coverageTf(q: tf.Tensor2D, ref: tf.Tensor2D, refRadii: Float32Array, block: number): Promise<number> {
  const n = q.shape[0];
  const norms = tf.tidy(() => tf.reshape(tf.sum(tf.square(ref), 1), [1, ref.shape[0]]));
  const radii = tf.tensor2d(refRadii, [1, refRadii.length]);
  let inside = 0;
  for (let s = 0; s < n; s += block) {
    const e = Math.min(n, s + block);
    const hits = tf.tidy(() => {
      const d = blockDistancesTf(tf.slice(q, [s, 0], [e - s, -1]), ref, norms); // [rows, nref]
      return tf.sum(tf.cast(tf.any(tf.lessEqual(d, radii), 1), 'int32'));
    });
    inside += (await hits.data())[0];
    hits.dispose();
  }
  tf.dispose([norms, radii]);
  return inside / n;
}

/** Precision and recall of `fake` against `real` (both [N, D] row-major feature matrices). */
export async function precisionRecall(real: FeatureMatrix, fake: FeatureMatrix, opts: PrecisionRecallOptions = {}): Promise<PrecisionRecallResult> {
  check(real, 'precisionRecall real');
  check(fake, 'precisionRecall fake');
  if (real.dim !== fake.dim) throw new ShapeError('precisionRecall fake', `dimension ${real.dim} (as real)`, String(fake.dim));
  const k = opts.k ?? 3;
  if (!Number.isInteger(k) || k < 1 || k >= Math.min(real.rows, fake.rows)) throw new ConfigError('precisionRecall', `k must be in 1..${Math.min(real.rows, fake.rows) - 1}, got ${k}`);
  const work = (real.rows + fake.rows) ** 2 * real.dim;
  const compute = opts.compute === 'auto' || !opts.compute ? (work < 2e9 ? 'js' : 'tf') : opts.compute;
  let precision: number;
  let recall: number;
  if (compute === 'js') {
    const rReal = radiiJs(real, k);
    const rFake = radiiJs(fake, k);
    precision = coverageJs(fake, real, rReal);
    recall = coverageJs(real, fake, rFake);
  } else {
    const block = opts.blockRows ?? 1024;
    const r = tf.tensor2d(Float32Array.from(real.data), [real.rows, real.dim]);
    const f = tf.tensor2d(Float32Array.from(fake.data), [fake.rows, fake.dim]);
    try {
      const rReal = await radiiTf(r, k, block);
      const rFake = await radiiTf(f, k, block);
      precision = await coverageTf(f, r, rReal, block);
      recall = await coverageTf(r, f, rFake, block);
    } finally {
      tf.dispose([r, f]);
    }
  }
  if (opts.convention === 'torch-fidelity') [precision, recall] = [recall, precision];
  return { precision, recall, fScore: (2 * precision * recall) / Math.max(1e-5, precision + recall) };
}

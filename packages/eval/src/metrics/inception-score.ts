// Inception Score exactly as torch-fidelity's isc_features_to_metric (shuffle off): logits in float64,
// split k of N covers rows [floor(k N / splits), floor((k + 1) N / splits)), score_k =
// exp(mean_i KL(p_i || mean_j p_j)), result = mean and population std of the scores. The ADM
// evaluator's IS (split size 5000, 10 splits for 50k) is the same split rule when N divides evenly.
import { ConfigError, ShapeError } from '@fae/core';

export interface InceptionScoreResult {
  mean: number;
  std: number;
  scores: number[];
}

/** logits: [N, C] row-major (torch-fidelity uses `logits_unbiased`, i.e. pool3 @ fc.weight^T). */
export function inceptionScore(logits: ArrayLike<number>, classes: number, opts: { splits?: number } = {}): InceptionScoreResult {
  const splits = opts.splits ?? 10;
  if (!Number.isInteger(classes) || classes < 1 || logits.length % classes) throw new ShapeError('inceptionScore logits', `[N, ${classes}] row-major`, `${logits.length} values`);
  const N = logits.length / classes;
  if (!Number.isInteger(splits) || splits < 1 || splits > N) throw new ConfigError('inceptionScore', `splits must be in 1..${N} (the number of samples), got ${splits}`);
  // log-softmax per row, float64
  const logp = new Float64Array(N * classes);
  for (let i = 0; i < N; i++) {
    const o = i * classes;
    let m = -Infinity;
    for (let c = 0; c < classes; c++) m = Math.max(m, logits[o + c]);
    let s = 0;
    for (let c = 0; c < classes; c++) s += Math.exp(logits[o + c] - m);
    const lse = m + Math.log(s);
    for (let c = 0; c < classes; c++) logp[o + c] = logits[o + c] - lse;
  }
  const scores: number[] = [];
  const q = new Float64Array(classes);
  for (let k = 0; k < splits; k++) {
    const a = Math.floor((k * N) / splits);
    const b = Math.floor(((k + 1) * N) / splits);
    q.fill(0);
    for (let i = a; i < b; i++) for (let c = 0; c < classes; c++) q[c] += Math.exp(logp[i * classes + c]);
    for (let c = 0; c < classes; c++) q[c] = Math.log(q[c] / (b - a));
    let kl = 0;
    for (let i = a; i < b; i++) {
      let row = 0;
      for (let c = 0; c < classes; c++) {
        const lp = logp[i * classes + c];
        row += Math.exp(lp) * (lp - q[c]);
      }
      kl += row;
    }
    scores.push(Math.exp(kl / (b - a)));
  }
  const mean = scores.reduce((s, v) => s + v, 0) / splits;
  const std = Math.sqrt(scores.reduce((s, v) => s + (v - mean) ** 2, 0) / splits);
  return { mean, std, scores };
}

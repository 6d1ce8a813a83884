// Float64 references for the training utilities, written from the algorithms' definitions
// (torch.optim.AdamW, clip_grad_norm_, EMA) and central finite differences for gradient checks.

/** torch.optim.AdamW state of one parameter, in float64. */
export interface AdamWRefState {
  p: Float64Array;
  m: Float64Array;
  v: Float64Array;
  step: number;
}

export function adamwRefInit(p: ArrayLike<number>): AdamWRefState {
  return { p: Float64Array.from(p), m: new Float64Array(p.length), v: new Float64Array(p.length), step: 0 };
}

/** One torch AdamW step (amsgrad=False, maximize=False) on `s`, in place. */
export function adamwRefStep(s: AdamWRefState, g: ArrayLike<number>, o: { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number }): void {
  s.step += 1;
  const bc1 = 1 - o.beta1 ** s.step;
  const bc2 = 1 - o.beta2 ** s.step;
  for (let i = 0; i < s.p.length; i++) {
    s.p[i] *= 1 - o.lr * o.weightDecay;
    s.m[i] = o.beta1 * s.m[i] + (1 - o.beta1) * g[i];
    s.v[i] = o.beta2 * s.v[i] + (1 - o.beta2) * g[i] * g[i];
    const denom = Math.sqrt(s.v[i]) / Math.sqrt(bc2) + o.eps;
    s.p[i] -= (o.lr / bc1) * (s.m[i] / denom);
  }
}

/** torch.nn.utils.clip_grad_norm_ on float64 arrays: returns the total norm and the clipped copies. */
export function clipGradNormRef(grads: ArrayLike<number>[], maxNorm: number): { norm: number; grads: Float64Array[] } {
  let sq = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) sq += g[i] * g[i];
  const norm = Math.sqrt(sq);
  const coef = Math.min(1, maxNorm / (norm + 1e-6));
  return { norm, grads: grads.map((g) => Float64Array.from(g, (x) => x * coef)) };
}

/** ema <- d ema + (1 - d) p, in place. */
export function emaRefUpdate(ema: Float64Array, p: ArrayLike<number>, decay: number): void {
  for (let i = 0; i < ema.length; i++) ema[i] = decay * ema[i] + (1 - decay) * p[i];
}

/**
 * Central finite differences of a float64 scalar function: d f / d x_i ~ (f(x + h e_i) - f(x - h e_i)) / 2h.
 * `x` is restored after each probe.
 */
export function centralDiff(f: (x: Float64Array) => number, x: Float64Array, h = 1e-6): Float64Array {
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const x0 = x[i];
    x[i] = x0 + h;
    const fp = f(x);
    x[i] = x0 - h;
    const fm = f(x);
    x[i] = x0;
    g[i] = (fp - fm) / (2 * h);
  }
  return g;
}

/** sum_i a_i w_i: the scalar a gradient check projects an output onto (w fixed, random). */
export function dot(a: ArrayLike<number>, w: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * w[i];
  return s;
}

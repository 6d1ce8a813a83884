// The training loop of the example's own small models (digit classifier, encoder pretraining):
// AdamW + cosine schedule with warm-up from @fae/core, seeded batches, progress events, loss log.
import * as tf from '@tensorflow/tfjs-core';
import { AdamW, Rng, clipGradNorm, computeGrads, cosineSchedule, disposeGrads, NonFiniteError, type Module } from '@fae/core';

export interface LoopOptions {
  module: Module;
  steps: number;
  lr: number;
  warmup?: number;
  weightDecay?: number;
  clipNorm?: number;
  seed: number;
  /** Scalar loss of one step; `rng` is this run's seeded generator (batches, masks, noise). */
  loss: (step: number, rng: Rng) => tf.Scalar;
  onProgress?: (e: { step: number; steps: number; loss: number; lr: number }) => void;
  /** Keep a loss value every `logEvery` steps (default 10). */
  logEvery?: number;
}

export interface LoopResult {
  /** [step, loss] pairs. */
  losses: Array<[number, number]>;
  seconds: number;
}

export async function trainLoop(o: LoopOptions): Promise<LoopResult> {
  const vars = o.module.trainableVariables();
  const opt = new AdamW(vars, { lr: o.lr, weightDecay: o.weightDecay ?? 0.01 });
  const schedule = cosineSchedule({ lr: o.lr, warmupSteps: o.warmup ?? Math.min(100, Math.floor(o.steps / 10)), totalSteps: o.steps, minLr: o.lr * 0.05 });
  const rng = new Rng(o.seed);
  const losses: Array<[number, number]> = [];
  const t0 = Date.now();
  const logEvery = o.logEvery ?? 10;
  o.module.train();
  try {
    for (let step = 1; step <= o.steps; step++) {
      const lr = schedule(step - 1);
      const { loss, grads } = computeGrads(() => o.loss(step, rng), vars);
      let used = grads;
      let norm: tf.Scalar | null = null;
      if (o.clipNorm) {
        const c = clipGradNorm(grads, o.clipNorm);
        used = c.grads;
        norm = c.norm;
      }
      opt.step(used, { lr });
      if (used !== grads) disposeGrads(used);
      disposeGrads(grads);
      norm?.dispose();
      const value = (await loss.data())[0];
      loss.dispose();
      if (!Number.isFinite(value)) throw new NonFiniteError(step, 'loss');
      if (step % logEvery === 0 || step === 1 || step === o.steps) losses.push([step, value]);
      o.onProgress?.({ step, steps: o.steps, loss: value, lr });
    }
  } finally {
    opt.dispose();
    o.module.eval();
  }
  return { losses, seconds: (Date.now() - t0) / 1000 };
}

/** Indices of a random batch drawn without replacement inside an epoch-wise seeded permutation. */
export class BatchSampler {
  private order: Int32Array;
  private pos = 0;
  constructor(private readonly n: number, private readonly rng: Rng) {
    this.order = rng.permutation(n);
  }
  next(batch: number): Int32Array {
    const out = new Int32Array(batch);
    for (let i = 0; i < batch; i++) {
      if (this.pos >= this.n) {
        this.order = this.rng.permutation(this.n);
        this.pos = 0;
      }
      out[i] = this.order[this.pos++];
    }
    return out;
  }
}

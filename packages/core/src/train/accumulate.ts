// Gradient accumulation over micro-batches: the optimizer step sees the mean gradient of `n`
// micro-batches (what one batch n times as large gives when the loss is a per-batch mean).
import * as tf from '@tensorflow/tfjs-core';
import { toGradMap, type NamedGrads, type NamedGradsInput } from './grads.js';

export class GradAccumulator {
  private sums = new Map<string, tf.Tensor>();
  private lossSum: tf.Tensor | null = null;
  /** Micro-batches added since the last mean(). */
  count = 0;

  /** Adds one micro-batch's gradients (and loss). The inputs are left to the caller to dispose. */
  add(grads: NamedGradsInput, loss?: tf.Scalar): void {
    for (const [k, g] of toGradMap(grads)) {
      const prev = this.sums.get(k);
      this.sums.set(k, prev ? tf.tidy(() => tf.add(prev, g)) : tf.clone(g));
      prev?.dispose();
    }
    if (loss) {
      const prev = this.lossSum;
      this.lossSum = prev ? tf.tidy(() => tf.add(prev, loss)) : tf.clone(loss);
      prev?.dispose();
    }
    this.count += 1;
  }

  /**
   * Mean gradients (sum / number of micro-batches) and mean loss, then resets. A parameter that had
   * no gradient in some micro-batches still divides by the full count (its gradient there is zero).
   */
  mean(): { grads: NamedGrads; loss: tf.Scalar | null } {
    const n = Math.max(1, this.count);
    const grads: NamedGrads = new Map();
    for (const [k, s] of this.sums) {
      grads.set(k, tf.tidy(() => tf.div(s, n)));
      s.dispose();
    }
    const loss = this.lossSum ? (tf.tidy(() => tf.div(this.lossSum!, n)) as tf.Scalar) : null;
    this.lossSum?.dispose();
    this.sums = new Map();
    this.lossSum = null;
    this.count = 0;
    return { grads, loss };
  }

  /** Drops what was accumulated. */
  reset(): void {
    for (const s of this.sums.values()) s.dispose();
    this.lossSum?.dispose();
    this.sums = new Map();
    this.lossSum = null;
    this.count = 0;
  }
}

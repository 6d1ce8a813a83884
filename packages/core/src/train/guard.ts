// NaN/Inf guard: one GPU read per check. Each tensor contributes a flag "all finite"; the flags are
// stacked and read together, and the first failing name (in the order given) is reported.
import * as tf from '@tensorflow/tfjs-core';
import { stackMany } from '../ops/many.js';
import { NonFiniteError } from '../errors.js';

/**
 * Throws NonFiniteError(step, name) for the first tensor holding a NaN or +-Inf.
 * `tensors` in the order to report (e.g. the loss first, then gradients by parameter name).
 */
export async function assertFinite(step: number, tensors: Map<string, tf.Tensor> | Array<[string, tf.Tensor]>): Promise<void> {
  const entries = tensors instanceof Map ? [...tensors.entries()] : tensors;
  if (!entries.length) return;
  const flags = tf.tidy(() =>
    stackMany(entries.map(([, t]) => tf.cast(tf.all(tf.isFinite(tf.reshape(t, [-1]))), 'float32'))), // [N]
  );
  const ok = await flags.data();
  flags.dispose();
  for (let i = 0; i < entries.length; i++) if (ok[i] !== 1) throw new NonFiniteError(step, entries[i][0]);
}

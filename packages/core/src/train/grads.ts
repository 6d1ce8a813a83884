// Gradients keyed by parameter name: tf.variableGrads keys its result by tfjs's internal variable
// names, so these helpers translate to and from the state-dict keys optimisers and checkpoints use.
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError } from '../errors.js';

/** Gradients by parameter name (state-dict key). */
export type NamedGrads = Map<string, tf.Tensor>;
export type NamedGradsInput = NamedGrads | Record<string, tf.Tensor>;

export function toGradMap(grads: NamedGradsInput): NamedGrads {
  return grads instanceof Map ? grads : new Map(Object.entries(grads));
}

/**
 * Loss value and gradients of every variable in `vars` that the loss depends on (variables it does
 * not touch get no entry, like PyTorch's `grad is None`). `lossFn` must return a scalar.
 * Tidy-clean: returns the loss and the gradients, nothing else stays allocated.
 */
export function computeGrads(lossFn: () => tf.Scalar, vars: Map<string, tf.Variable>): { loss: tf.Scalar; grads: NamedGrads } {
  const list = [...vars.values()].filter((v) => v.trainable);
  const keyOf = new Map<string, string>();
  for (const [k, v] of vars) keyOf.set(v.name, k);
  const { value, grads } = tf.variableGrads(() => {
    const l = lossFn();
    if (l.rank !== 0) throw new ShapeError('loss', 'a scalar (rank 0)', `shape [${l.shape}]`);
    return l;
  }, list);
  const out: NamedGrads = new Map();
  for (const [tfName, g] of Object.entries(grads)) out.set(keyOf.get(tfName)!, g);
  return { loss: value, grads: out };
}

/** Disposes every gradient tensor of a map. */
export function disposeGrads(grads: NamedGradsInput): void {
  for (const g of toGradMap(grads).values()) g.dispose();
}

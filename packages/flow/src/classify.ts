// Bayes classification with a class-conditional flow (upstream train_local.ipynb): with a uniform
// label prior, p(y | x) is proportional to p(x | y), so the predicted class is argmin_y NLL(x, y).
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, stackMany } from '@fae/core';
import type { TarFlow } from './tarflow.js';

/** x [B, H, W, C] -> { predicted: int32 [B], nll: [B, K] (nats per sample for every class) }. */
export function classifyByLikelihood(model: TarFlow, x: tf.Tensor): { predicted: tf.Tensor; nll: tf.Tensor } {
  const k = model.config.numClasses;
  if (!k) throw new ConfigError('classifyByLikelihood', 'the model is unconditional (numClasses = 0)');
  return tf.tidy(() => {
    const b = x.shape[0]!;
    const cols: tf.Tensor[] = [];
    for (let c = 0; c < k; c++) cols.push(model.nll(x, tf.fill([b], c, 'int32'))); // [B]
    const nll = stackMany(cols, 1); // [B, K] (tf.stack of 8+ inputs is wrong on webgpu: core ops/many.ts)
    return { predicted: tf.argMin(nll, 1), nll };
  });
}

// Shared test helpers: small random TarFlows with every parameter randomised (so a test only passes
// when every weight is used in the right place) and float64 views of their state dicts.
import * as tf from '@tensorflow/tfjs-core';
import { ref64, ref64flow } from '@fae/testing';
import { TarFlow, type TarFlowConfig } from '@fae/flow';

export const SMALL: TarFlowConfig = {
  inChannels: 2, imgSize: 4, patchSize: 2, channels: 16, headDim: 8, numBlocks: 3, layersPerBlock: [1, 2, 1], numClasses: 3,
};

/**
 * A TarFlow with random weights: norms around 1, everything else U(-scale, scale) (proj_out smaller
 * so exp(a) stays tame), and a random positive prior variance when `randomVar`.
 */
export async function randomFlow(config: TarFlowConfig, seed: number, opts: { randomVar?: boolean; scale?: number } = {}): Promise<TarFlow> {
  const model = new TarFlow(config);
  const sd = await model.stateDict();
  const values: Record<string, tf.Tensor> = {};
  let s = seed;
  for (const [k, v] of sd) {
    const r = ref64.randomNd(v.shape, s++, k.includes('proj_out') ? 0.05 : opts.scale ?? 0.4);
    if (k.endsWith('attn_mask')) values[k] = tf.tensor(v.data, v.shape);
    else if (k === 'var') values[k] = opts.randomVar ? tf.tensor(Float32Array.from(r.data, (x) => 1 + 0.5 * x), v.shape) : tf.ones(v.shape);
    else if (k.includes('norm.weight')) values[k] = tf.tensor(Float32Array.from(r.data, (x) => 1 + x), v.shape);
    else values[k] = ref64.toTensor(r);
  }
  await model.loadStateDict(values);
  tf.dispose(Object.values(values));
  return model;
}

export function refConfig(model: TarFlow): ref64flow.FlowRefConfig {
  const c = model.config;
  return { layers: c.layersPerBlock, headDim: c.headDim, nvp: c.nvp, grid: model.gridSize, rope: c.rope };
}

/** Random NHWC input [B, H, W, C] as float64 reference array and tensor. */
export function randomInput(model: TarFlow, batch: number, seed: number, scale = 1): { nd: ref64.Nd; t: tf.Tensor } {
  const nd = ref64.randomNd([batch, ...model.latentShape], seed, scale);
  return { nd, t: ref64.toTensor(nd) };
}

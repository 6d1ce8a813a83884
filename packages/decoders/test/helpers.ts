// Test helpers: random weights for a module, and gradient checks against float64 finite differences.
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';
import { expectClose, ref64, ref64fae, ref64transformer } from '@fae/testing';
import type { Module } from '@fae/core';

/** Loads random values (PyTorch layout) into every parameter and buffer; returns them in float64. */
export async function randomize(m: Module, seed: number, scale = 0.5, around: Record<string, number> = {}): Promise<ref64fae.StateDict64> {
  const sd = await m.stateDict();
  const out: ref64fae.StateDict64 = new Map();
  const tensors: Record<string, tf.Tensor> = {};
  let s = seed;
  for (const [k, v] of sd) {
    let r = ref64.randomNd(v.shape, s++, scale);
    const suffix = Object.keys(around).find((x) => k.endsWith(x));
    if (suffix !== undefined) r = ref64.map(r, (x) => around[suffix] + x);
    out.set(k, r);
    tensors[k] = ref64.toTensor(r);
  }
  await m.loadStateDict(tensors);
  tf.dispose(Object.values(tensors));
  return out;
}

/** Flat index in our layout of a PyTorch-layout flat index (Linear weights are transposed). */
export function ourIndex(torchShape: number[], i: number, linear: boolean): number {
  if (!linear) return i;
  const [out, inF] = torchShape;
  return (i % inF) * out + Math.floor(i / inF);
}

/**
 * Compares tf gradients (our layout) of sum(y * wOut) with central differences of the float64
 * reference at `count` spread-out entries of each named parameter.
 */
export async function checkParamGrads(opts: {
  module: Module;
  sd: ref64fae.StateDict64;
  keys: string[];
  forward: () => tf.Tensor;
  reference: () => ref64.Nd;
  wOut: ref64.Nd;
  count?: number;
  rtol?: number;
  /** Keys whose tensors are in the 'linear' layout. */
  isLinear?: (key: string) => boolean;
  /** State-dict key of a parameter name (when the module renames keys, e.g. PixelDecoder). */
  sdKey?: (key: string) => string;
}): Promise<void> {
  const wt = ref64.toTensor(opts.wOut);
  const vars = opts.module.trainableVariables();
  const list = opts.keys.map((k) => {
    const v = vars.get(k);
    expect(v, `trainable variable ${k}`).toBeDefined();
    return v!;
  });
  const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(opts.forward(), wt)) as tf.Scalar, list);
  for (const key of opts.keys) {
    const p = opts.sd.get(opts.sdKey ? opts.sdKey(key) : key)!;
    const idx = ref64transformer.sampleIndices(p.data.length, opts.count ?? 10);
    const fd = ref64transformer.centralDifferences(() => ref64transformer.weightedSum(opts.reference(), opts.wOut), p.data, idx, 1e-5);
    const g = (await grads[vars.get(key)!.name].data()) as Float32Array;
    const linear = opts.isLinear ? opts.isLinear(key) : key.endsWith('.weight') && p.shape.length === 2;
    await expectClose(idx.map((i) => g[ourIndex(p.shape, i, linear)]), fd, opts.rtol ?? 2e-3, `d loss / d ${key}`);
  }
  tf.dispose([wt, value, ...Object.values(grads)]);
}

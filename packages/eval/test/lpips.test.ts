import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { describeBackends, describeFixture, expectClose, expectNoLeaks, ref64, ref64eval } from '@fae/testing';
import { MemoryTensorStore } from '@fae/core';
import { Lpips, proceduralSpecFor, proceduralStore, proceduralValues } from '@fae/eval';
import { runLpipsFixture } from '@fae/testing/parity/handlers/lpips.js';

describeFixture('lpips_vgg fixture', ['eval', 'lpips_vgg'], (dir) => {
  describeBackends('LPIPS (VGG16, v0.1 linear layers) vs the lpips package', () => {
    it('matches the total and per-layer distances to 1e-4', async () => {
      const outputs = await expectNoLeaks(() => runLpipsFixture(dir));
      expect(outputs.map((o) => o.name)).toEqual(['lpips', 'per_layer']);
      for (const o of outputs) expect(o.rel, o.name).toBeLessThanOrEqual(1e-4);
    });
  });
});

/** The float64 side (backend-independent, so computed once for all backends): per-layer terms and directional derivatives. */
const H = 1e-5;
const DIRECTIONS = [1, 2].map((seed) => ref64.randomNd([1, 16, 16, 3], 100 + seed).data);
const A = ref64.randomNd([1, 16, 16, 3], 71, 0.9);
const B = ref64.randomNd([1, 16, 16, 3], 72, 0.9);
const LIN = [64, 128, 256, 512, 512].map((c, i) => ref64.nd([1, c, 1, 1], Float64Array.from(proceduralValues({ shape: [c], seed: 900 + i, offset: 0.05, scale: 0.04 }))));
let reference: { perLayer: number[]; fd: number[] } | null = null;
function float64Reference(spec: Record<string, { shape: number[]; seed: number; offset: number; scale: number }>) {
  if (reference) return reference;
  const vgg: Record<string, ref64.Nd> = {};
  for (const [k, s] of Object.entries(spec)) vgg[k] = ref64.nd(s.shape, proceduralValues(s));
  const fb = ref64eval.lpipsVggFeatures(B, vgg);
  const loss = (xa: Float64Array) => ref64eval.lpipsFromFeatures(ref64eval.lpipsVggFeatures(ref64.nd(A.shape, xa), vgg), fb, LIN)[0].reduce((s, v) => s + v, 0);
  const perLayer = ref64eval.lpipsFromFeatures(ref64eval.lpipsVggFeatures(A, vgg), fb, LIN).flat();
  const fd = DIRECTIONS.map((v) => (loss(A.data.map((x, i) => x + H * v[i])) - loss(A.data.map((x, i) => x - H * v[i]))) / (2 * H));
  reference = { perLayer, fd };
  return reference;
}

describeBackends('LPIPS against a float64 reference', () => {
  it('forward and input gradient (directional derivatives) match float64 VGG16 LPIPS', async () => {
    const model = new Lpips();
    // procedural backbone (fan-in scaled) and positive linear layers, as float32 values shared with the reference
    const vggShapes: Array<[string, number[]]> = model.features.namedParameters().map(([k, p]) => [`features.${k}`, p.torchShape]);
    const spec = proceduralSpecFor(vggShapes, 500);
    await model.loadBackbone(proceduralStore(spec));
    await model.loadLinearLayers(new MemoryTensorStore(Object.fromEntries(LIN.map((l, i) => [`lin${i}.model.1.weight`, { shape: l.shape, data: Float32Array.from(l.data) }]))));
    const ref = float64Reference(spec);
    const [at, bt] = [ref64.toTensor(A), ref64.toTensor(B)];
    const r = await expectNoLeaks(() => model.distance(at, bt));
    await expectClose(r.perLayer, ref.perLayer, 1e-4, 'per layer');
    const g = await expectNoLeaks(() => tf.grad((x: tf.Tensor) => model.loss(x, bt))(at), 'lpips grad');
    const gData = Array.from(await g.data());
    DIRECTIONS.forEach((v, k) => {
      const dot = gData.reduce((s, gi, i) => s + gi * v[i], 0);
      expect(Math.abs(dot - ref.fd[k]) / Math.abs(ref.fd[k]), `direction ${k}: ${dot} vs ${ref.fd[k]}`).toBeLessThan(2e-3);
    });
    tf.dispose([at, bt, r.distance, r.perLayer, g]);
    model.dispose();
  });
});

import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { describeBackends, expectClose, expectNoLeaks, relError, ref64, ref64transformer as rt } from '@fae/testing';
import { SwiGLUFFN, swiglu, dinov2SwiGLUHidden, ShapeError } from '@fae/core';

const IN = 6, HID = 5, OUT = 4;

function refWeights(seed: number) {
  return {
    wIn: ref64.randomNd([2 * HID, IN], seed),
    bIn: ref64.randomNd([2 * HID], seed + 1),
    wOut: ref64.randomNd([OUT, HID], seed + 2),
    bOut: ref64.randomNd([OUT], seed + 3),
  };
}

describeBackends('SwiGLUFFN', () => {
  it("hidden-width rule matches DINOv2's (LightningDiT's is tested in @fae/diffusion)", () => {
    expect(dinov2SwiGLUHidden(96)).toBe(256); // the dinov2_reg_2 fixture
    expect(dinov2SwiGLUHidden(1536)).toBe(4096); // DINOv2-g
  });

  for (const layout of ['lightningdit', 'dinov2'] as const) {
    it(`${layout} layout: key names and forward match a float64 reference (first half is the gate)`, async () => {
      const m = new SwiGLUFFN(IN, HID, { layout, outFeatures: OUT });
      const [kIn, kOut] = layout === 'lightningdit' ? ['w12', 'w3'] : ['weights_in', 'weights_out'];
      expect(m.namedParameters().map(([k]) => k)).toEqual([`${kIn}.weight`, `${kIn}.bias`, `${kOut}.weight`, `${kOut}.bias`]);
      const w = refWeights(layout === 'dinov2' ? 10 : 20);
      await m.loadStateDict({
        [`${kIn}.weight`]: ref64.toTensor(w.wIn), [`${kIn}.bias`]: ref64.toTensor(w.bIn),
        [`${kOut}.weight`]: ref64.toTensor(w.wOut), [`${kOut}.bias`]: ref64.toTensor(w.bOut),
      });
      const x = ref64.randomNd([2, 3, IN], 5, 2);
      const xt = ref64.toTensor(x);
      const y = await expectNoLeaks(() => m.forward(xt));
      expect(y.shape).toEqual([2, 3, OUT]);
      await expectClose(y, rt.swigluFFN(x, w.wIn, w.bIn, w.wOut, w.bOut).data, 1e-5);
      // Swapping the halves must change the answer (the test can tell gate from value).
      const swapped = ref64.nd(w.wIn.shape, [...w.wIn.data.slice(HID * IN), ...w.wIn.data.slice(0, HID * IN)]);
      const bSwapped = ref64.nd([2 * HID], [...w.bIn.data.slice(HID), ...w.bIn.data.slice(0, HID)]);
      const wrong = rt.swigluFFN(x, swapped, bSwapped, w.wOut, w.bOut);
      expect(relError(await y.data(), wrong.data).rel).toBeGreaterThan(1e-2);
      tf.dispose([xt, y]);
      m.dispose();
    });
  }

  it('swiglu() halves the last axis', async () => {
    const x = ref64.randomNd([3, 8], 7, 3);
    const xt = ref64.toTensor(x);
    const expected = ref64.nd([3, 4]);
    for (let r = 0; r < 3; r++) for (let j = 0; j < 4; j++) expected.data[r * 4 + j] = ref64.silu(x.data[r * 8 + j]) * x.data[r * 8 + 4 + j];
    await expectClose(swiglu(xt), expected.data, 1e-6);
    xt.dispose();
  });

  it('rejects a wrong input width', () => {
    const m = new SwiGLUFFN(IN, HID);
    const x = tf.zeros([2, IN + 1]);
    expect(() => m.forward(x)).toThrow(ShapeError);
    x.dispose();
    m.dispose();
  });

  it('gradients (input and fused weight) match float64 central differences', async () => {
    const m = new SwiGLUFFN(IN, HID, { outFeatures: OUT });
    const w = refWeights(30);
    await m.loadStateDict({ 'w12.weight': ref64.toTensor(w.wIn), 'w12.bias': ref64.toTensor(w.bIn), 'w3.weight': ref64.toTensor(w.wOut), 'w3.bias': ref64.toTensor(w.bOut) });
    const x = ref64.randomNd([2, 3, IN], 31, 1.5);
    const g = ref64.randomNd([2, 3, OUT], 32);
    const [xt, gt] = [x, g].map(ref64.toTensor);
    const before = tf.memory().numTensors;
    const dx = tf.grad((xi: tf.Tensor) => tf.sum(tf.mul(m.forward(xi), gt)))(xt);
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(m.forward(xt), gt)) as tf.Scalar, [m.fcIn.weight]);
    const dwTorch = tf.transpose(grads[m.fcIn.weight.name], [1, 0]); // ours [in, 2h] -> torch [2h, in]
    const loss = (xd: Float64Array, wIn = w.wIn) => rt.weightedSum(rt.swigluFFN(ref64.nd(x.shape, xd), wIn, w.bIn, w.wOut, w.bOut), g);
    const idx = rt.sampleIndices(x.data.length, 12);
    const fdX = rt.centralDifferences((xd) => loss(xd), Float64Array.from(x.data), idx);
    const widx = rt.sampleIndices(w.wIn.data.length, 12);
    const fdW = rt.centralDifferences((wd) => loss(x.data, ref64.nd(w.wIn.shape, wd)), Float64Array.from(w.wIn.data), widx);
    const dxv = await dx.data(), dwv = await dwTorch.data();
    expect(relError(idx.map((i) => dxv[i]), fdX).rel).toBeLessThan(1e-3);
    expect(relError(widx.map((i) => dwv[i]), fdW).rel).toBeLessThan(1e-3);
    tf.dispose([dx, dwTorch, value, grads[m.fcIn.weight.name]]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([xt, gt]);
    m.dispose();
  });
});

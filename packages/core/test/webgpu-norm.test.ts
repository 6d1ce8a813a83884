import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeBackends, expectClose, expectNoLeaks, ref64, ref64kernels } from '@fae/testing';
import { LayerNorm, RMSNorm, fusedNorm, fusedNormSupported, layerNorm, registerFaeWebGPUKernels, rmsNorm, unregisterFaeWebGPUKernels } from '@fae/core';

// The fused LayerNorm / RMSNorm (+ adaLN modulation) kernel against float64 references, forward and
// gradients (tfjs-op backward through the custom gradient) against central finite differences of the
// float64 forward, at widths below, above and not dividing the 64 x vec4 workgroup; on software Vulkan.
interface Case {
  name: string;
  shape: number[];
  kind: 'layer' | 'rms';
  eps: number;
  weight?: boolean;
  bias?: boolean;
  modulate?: 'scale' | 'shift-scale';
}
const CASES: Case[] = [
  { name: 'LayerNorm affine', shape: [2, 5, 48], kind: 'layer', eps: 1e-5, weight: true, bias: true },
  { name: 'LayerNorm plain', shape: [3, 100], kind: 'layer', eps: 1e-6 },
  { name: 'LayerNorm affine, wide row', shape: [3, 1000], kind: 'layer', eps: 1e-5, weight: true, bias: true },
  { name: 'RMSNorm weight', shape: [2, 3, 68], kind: 'rms', eps: 1e-6, weight: true },
  { name: 'LayerNorm + shift/scale modulation', shape: [2, 4, 40], kind: 'layer', eps: 1e-6, modulate: 'shift-scale' },
  { name: 'RMSNorm weight + scale-only modulation', shape: [2, 3, 24], kind: 'rms', eps: 1e-6, weight: true, modulate: 'scale' },
];

describeBackends('FAE WebGPU kernels: fused norms', () => {
  beforeAll(() => {
    expect(registerFaeWebGPUKernels()).toBe(true);
  });
  afterAll(() => unregisterFaeWebGPUKernels());

  for (const [ci, c] of CASES.entries()) {
    it(`${c.name} ${JSON.stringify(c.shape)}: forward and gradients match float64`, async () => {
      const d = c.shape[c.shape.length - 1];
      const seed = 300 + 10 * ci;
      const x = ref64.map(ref64.randomNd(c.shape, seed, 2), (v, i) => v + (i % 3)); // non-zero row means
      const w = c.weight ? ref64.map(ref64.randomNd([d], seed + 1), (v) => 1 + 0.5 * v) : null;
      const b = c.bias ? ref64.randomNd([d], seed + 2) : null;
      const scale = c.modulate ? ref64.randomNd([c.shape[0], d], seed + 3, 0.5) : null;
      const shift = c.modulate === 'shift-scale' ? ref64.randomNd([c.shape[0], d], seed + 4) : null;
      const g = ref64.randomNd(c.shape, seed + 5);
      const params = { kind: c.kind, eps: c.eps };
      const ref = (xx: ref64.Nd, ww = w, bb = b, sh = shift, scl = scale) => ref64kernels.normModulate(xx, { ...params, weight: ww, bias: bb }, sh, scl);

      const t = (a: ref64.Nd | null) => (a ? ref64.toTensor(a) : null);
      const [xt, wt, bt, sht, sct, gt] = [x, w, b, shift, scale, g].map(t);
      const p = { ...params, weight: wt, bias: bt };
      expect(fusedNormSupported(xt!, p, sht, sct)).toBe(true);
      const y = await expectNoLeaks(() => fusedNorm(xt!, p, sht, sct), 'fusedNorm');
      await expectClose(y, ref(x).data, 1e-5, 'y');

      // gradients w.r.t. every tensor input against central differences of the float64 forward
      const inputs = [xt, wt, bt, sht, sct].filter((v): v is tf.Tensor => !!v);
      const names = ['x', 'weight', 'bias', 'shift', 'scale'].filter((_, i) => [xt, wt, bt, sht, sct][i]);
      const f = (...ts: tf.Tensor[]) => {
        const get = (n: string) => ts[names.indexOf(n)] ?? null;
        return tf.sum(tf.mul(fusedNorm(get('x')!, { ...params, weight: get('weight'), bias: get('bias') }, get('shift'), get('scale')), gt!));
      };
      const grads = await expectNoLeaks(() => tf.grads(f)(inputs), 'grads');
      const loss = (which: string) => (v: ref64.Nd) => ref64kernels.dotAll(
        ref(which === 'x' ? v : x, which === 'weight' ? v : w, which === 'bias' ? v : b, which === 'shift' ? v : shift, which === 'scale' ? v : scale), g);
      const ndOf: Record<string, ref64.Nd | null> = { x, weight: w, bias: b, shift, scale };
      for (const [i, n] of names.entries()) {
        await expectClose(grads[i], ref64kernels.finiteDifferenceGrad(loss(n), ndOf[n]!).data, 1e-5, `d${n}`);
      }
      tf.dispose([...inputs, gt!, y, ...grads]);
    });
  }

  it('LayerNorm / RMSNorm modules and layerNorm / rmsNorm run the fused kernel', async () => {
    const x = ref64.randomNd([2, 6, 32], 9, 3);
    const xt = ref64.toTensor(x);
    const ln = new LayerNorm(32, { eps: 1e-6 });
    const rn = new RMSNorm(32);
    const prof = await tf.profile(() => [ln.forward(xt), rn.forward(xt)]);
    expect(prof.kernels.filter((k) => k.name === 'FaeFusedNorm')).toHaveLength(2); // kernelNames is deduplicated
    expect(prof.kernelNames).not.toContain('Mean');
    await expectClose(layerNorm(xt, null, null, 1e-6), ref64kernels.normModulate(x, { kind: 'layer', eps: 1e-6 }).data, 1e-5, 'layerNorm');
    await expectClose(rmsNorm(xt, null, 1e-6), ref64kernels.normModulate(x, { kind: 'rms', eps: 1e-6 }).data, 1e-5, 'rmsNorm');
    tf.dispose([xt, ...(prof.result as tf.Tensor[])]);
    ln.dispose();
    rn.dispose();
  });

  it('refuses what it cannot run', () => {
    const x = tf.zeros([2, 3, 8]);
    const scale = tf.zeros([3, 8]);
    expect(fusedNormSupported(x, { kind: 'layer', eps: 1e-5 }, null, scale)).toBe(false); // batch mismatch
    expect(() => fusedNorm(x, { kind: 'layer', eps: 1e-5 }, null, scale)).toThrow(/scale \[3,8\] must be \[2, 8\]/);
    const wide = tf.zeros([1, 5000]);
    expect(fusedNormSupported(wide, { kind: 'rms', eps: 1e-6 })).toBe(false);
    tf.dispose([x, scale, wide]);
  });

  it('falls back to the composite where it cannot run (width not a multiple of 4)', async () => {
    const x = ref64.randomNd([2, 70], 21, 2);
    const xt = ref64.toTensor(x);
    expect(fusedNormSupported(xt, { kind: 'layer', eps: 1e-5 })).toBe(false);
    const prof = await tf.profile(() => layerNorm(xt, null, null, 1e-5));
    expect(prof.kernelNames).not.toContain('FaeFusedNorm');
    await expectClose(prof.result as tf.Tensor, ref64kernels.normModulate(x, { kind: 'layer', eps: 1e-5 }).data, 1e-5, 'fallback');
    tf.dispose([xt, prof.result as tf.Tensor]);
  });
}, { backends: ['webgpu'] });

// The fused optimizer kernels (train/fused-update.ts): on cpu and wasm the same bits as the unfused
// tfjs ops they replace (AdamW's moments and update, EMA), on WebGPU (software Vulkan here) within
// float32 rounding; AdamW with gradScale against the float64 torch reference; no leaks.
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { describeBackends, expectClose, expectNoLeaks, ref64, ref64train } from '@fae/testing';
import { AdamW, EMA, WASM_FUSED_MAX_ELEMENTS, adamwParamUpdate, fusedUpdatesAvailable, momentUpdate, registerFusedUpdateKernels, unregisterFusedUpdateKernels, useFusedUpdate } from '@fae/core';

function tensor(shape: number[], seed: number, scale = 1, offset = 0): tf.Tensor {
  return ref64.toTensor(ref64.map(ref64.randomNd(shape, seed, scale), (v) => v + offset));
}

function variables(shapes: Record<string, number[]>, seed: number): Map<string, tf.Variable> {
  return new Map(Object.entries(shapes).map(([k, s], i) => {
    const t = tensor(s, seed + i);
    const v = tf.variable(t, true);
    t.dispose();
    return [k, v];
  }));
}

/** Exact on cpu/wasm (same float32 operations in the same order), rounding-close on WebGPU. */
async function expectSame(backend: string, got: tf.Tensor, want: tf.Tensor, label: string): Promise<void> {
  const [a, b] = [await got.data(), await want.data()];
  if (backend === 'webgpu') await expectClose(got, b, 1e-6, label);
  else expect(Array.from(a), label).toEqual(Array.from(b));
}

// Sizes below, at and above one 64-wide workgroup, a 3-D parameter, and 70k elements (folded grid).
const SHAPES = [[5], [64], [3, 7, 11], [700, 100]];

describeBackends('fused optimizer kernels', ({ backend }) => {
  it('are registered for this backend; wasm uses them only for small tensors (its SIMD ops win on large ones)', () => {
    expect(fusedUpdatesAvailable()).toBe(true);
    expect(useFusedUpdate(WASM_FUSED_MAX_ELEMENTS)).toBe(true);
    expect(useFusedUpdate(WASM_FUSED_MAX_ELEMENTS + 1)).toBe(backend !== 'wasm');
  });

  for (const shape of SHAPES) {
    it(`moment and AdamW update ${JSON.stringify(shape)} equal the unfused ops`, async () => {
      const [x, g] = [tensor(shape, 1), tensor(shape, 2, 3)];
      const v = tf.abs(tensor(shape, 3)); // a second moment is >= 0
      const [b1, b2, s, lr, wd, step] = [0.9, 0.999, 0.37, 3e-3, 0.05, 7];
      for (const scale of [null, s]) {
        const gs = scale === null ? g : tf.mul(g, tf.scalar(scale));
        const m1 = await expectNoLeaks(() => momentUpdate(x, g, { c1: b1, c2: 1 - b1, scale, square: false }), 'momentUpdate');
        await expectSame(backend, m1, tf.tidy(() => tf.add(tf.mul(x, b1), tf.mul(gs, 1 - b1))), 'm');
        const v1 = momentUpdate(v, g, { c1: b2, c2: 1 - b2, scale, square: true });
        await expectSame(backend, v1, tf.tidy(() => tf.add(tf.mul(v, b2), tf.mul(tf.square(gs), 1 - b2))), 'v');
        const [bc1, bc2] = [1 - b1 ** step, 1 - b2 ** step];
        for (const d of [null, 1 - lr * wd]) {
          const p1 = await expectNoLeaks(() => adamwParamUpdate(x, m1, v1, { d, k: lr / bc1, r: Math.sqrt(bc2), eps: 1e-8 }), 'adamwParamUpdate');
          const want = tf.tidy(() => {
            const denom = tf.add(tf.div(tf.sqrt(v1), Math.sqrt(bc2)), 1e-8);
            return tf.sub(d === null ? x : tf.mul(x, d), tf.mul(tf.div(m1, denom), lr / bc1));
          });
          await expectSame(backend, p1, want, `p (decay ${d})`);
          tf.dispose([p1, want]);
        }
        tf.dispose([m1, v1]);
        if (gs !== g) gs.dispose();
      }
      tf.dispose([x, g, v]);
    });
  }

  it('AdamW: fused and unfused give the same parameters over 5 steps with gradScale and per-name decay', async () => {
    const shapes = { w: [33, 17], b: [17], n: [2, 3, 5], big: [90, 100] }; // big: above the wasm threshold
    const [pa, pb] = [variables(shapes, 10), variables(shapes, 10)];
    const decay = (name: string) => (name === 'w' ? 0.1 : 0);
    const fused = new AdamW(pa, { lr: 0.01, weightDecay: decay });
    const plain = new AdamW(pb, { lr: 0.01, weightDecay: decay, fused: false });
    for (let step = 0; step < 5; step++) {
      const grads = new Map(Object.entries(shapes).map(([k, s], i) => [k, tensor(s, 40 + 5 * step + i, 2)]));
      const opts = { lr: 0.01 * (1 + step), gradScale: step % 2 ? 0.25 : undefined };
      if (step === 0) fused.step(grads, opts);
      else await expectNoLeaks(() => fused.step(grads, opts), 'fused AdamW.step');
      plain.step(grads, opts);
      tf.dispose([...grads.values()]);
    }
    for (const k of Object.keys(shapes)) await expectSame(backend, pa.get(k)!, pb.get(k)!, k);
    const [sa, sb] = [await fused.exportState(), await plain.exportState()];
    for (const [k, t] of sa.tensors) {
      const other = sb.tensors.get(k)!;
      if (backend === 'webgpu') await expectClose(tf.tensor(t.data), other.data, 1e-6, k);
      else expect(Array.from(t.data), k).toEqual(Array.from(other.data));
    }
    fused.dispose();
    plain.dispose();
    tf.dispose([...pa.values(), ...pb.values()]);
  });

  it('AdamW with gradScale matches torch (float64 reference of clipped gradients)', async () => {
    const params = variables({ w: [4, 3] }, 60);
    const ref = ref64train.adamwRefInit(await params.get('w')!.data());
    const opt = new AdamW(params, { lr: 0.02, weightDecay: 0.01 });
    for (let step = 0; step < 4; step++) {
      const g = ref64.randomNd([4, 3], 70 + step, 2);
      const scale = 0.5 + 0.1 * step;
      const grads = new Map([['w', ref64.toTensor(g)]]);
      opt.step(grads, { gradScale: scale });
      ref64train.adamwRefStep(ref, g.data.map((v) => v * scale), { lr: 0.02, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 });
      tf.dispose([...grads.values()]);
    }
    await expectClose(params.get('w')!, ref.p, 1e-5, 'w');
    opt.dispose();
    tf.dispose([...params.values()]);
  });

  it('EMA: the fused update equals the unfused one, and falls back when the kernels are gone', async () => {
    const live = variables({ a: [9, 13], c: [3] }, 80);
    const ema = new EMA(live, { decay: 0.95 });
    const want = new Map([...live].map(([k, p]) => [k, tf.clone(p)]));
    for (let i = 0; i < 3; i++) {
      for (const [k, p] of live) p.assign(tf.tidy(() => tf.add(p, tensor(p.shape, 90 + i))));
      if (i === 2) {
        unregisterFusedUpdateKernels(backend);
        expect(fusedUpdatesAvailable()).toBe(false);
      }
      await expectNoLeaks(() => ema.update(), 'EMA.update');
      for (const [k, p] of live) {
        const w = want.get(k)!;
        want.set(k, tf.tidy(() => tf.add(tf.mul(w, 0.95), tf.mul(p, 1 - 0.95))));
        w.dispose();
      }
    }
    registerFusedUpdateKernels(backend);
    for (const k of live.keys()) await expectSame(backend, ema.get(k)!, want.get(k)!, k);
    ema.dispose();
    tf.dispose([...live.values(), ...want.values()]);
  });
});

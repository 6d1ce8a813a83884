import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { describeBackends, expectNoLeaks, ref64, relativeL2 } from '@fae/testing';
import {
  ConfigError, Linear, Mlp, QuantizedWeight, SUBGROUP_MATRIX_FEATURE, int8MatMulReference, prepareInt8SubgroupMatrix, quantizeLinears,
  quantizeRows, quantizeRowsReference, readQuantizedRows, resolveInt8Kernel, subgroupMatrixUnavailableReason, w8a8Linear,
} from '@fae/core';
import { registerWebGPUFactoryWithInt8Features } from '../src/webgpu/int8-device.js';

// W8A8 linear layers (quant/w8a8.ts, quant/quantize-linears.ts): per-output-channel weight scales,
// per-token activation scales, int32 accumulation, dequantised epilogue. Checked against float64 of
// the same quantisation (tight) and against the fp32 Linear (loose: int8 rounding); the fallbacks
// where subgroup matrices are missing (software Vulkan has none) or the backend is not webgpu.

describeBackends('W8A8 linear on WebGPU (scalar int8 kernel)', () => {
  it('w8a8Linear equals float64 of its own int8 values and scales, and is within 1e-2 (relative L2) of fp32', async () => {
    const [k, n] = [96, 80];
    const x = ref64.randomNd([2, 9, k], 1, 1.5);
    const w = ref64.randomNd([k, n], 2, 0.1);
    const b = ref64.randomNd([n], 3, 0.2);
    const [xt, wt, bt] = [x, w, b].map(ref64.toTensor);
    const q = QuantizedWeight.fromWeight(wt);
    const y = await expectNoLeaks(() => w8a8Linear(xt, q, bt, { kernel: 'scalar' }), 'w8a8Linear');
    expect(y.shape).toEqual([2, 9, n]);
    // float64 of the same quantisation: the int8 values and scales the GPU quantiser made (checked
    // against the float64 quantiser, within one step at rare f32 ties, in int8-gemm.test.ts)
    const W = await readQuantizedRows(q.packed, n, k); // rows of W^T
    const xq = quantizeRows(tf.reshape(xt, [18, k]));
    const X = await readQuantizedRows(xq, 18, k);
    xq.dispose();
    const Xref = quantizeRowsReference(x.data, 18, k);
    expect(X.q.filter((v, i) => Math.abs(v - Xref.q[i]) > 1)).toHaveLength(0);
    const acc = int8MatMulReference(X.q, W.q, 18, n, k);
    const got = await y.data();
    let worst = 0;
    for (let t = 0; t < 18; t++) {
      for (let j = 0; j < n; j++) {
        const prod = acc[t * n + j] * X.scales[t] * W.scales[j];
        worst = Math.max(worst, Math.abs(got[t * n + j] - (prod + b.data[j])) / (Math.abs(prod) + Math.abs(b.data[j])));
      }
    }
    expect(worst).toBeLessThan(1e-5); // f32 rounding of the dequantised product and the bias
    const fp32 = new Linear(k, n);
    fp32.weight.assign(wt);
    fp32.bias!.assign(bt);
    const yRef = fp32.forward(xt);
    expect(await relativeL2(y, yRef)).toBeLessThan(1e-2);
    tf.dispose([xt, wt, bt, y, yRef]);
    q.dispose();
    fp32.dispose();
    expect(q.isDisposed).toBe(true);
  });

  it('the subgroup-matrix kernel falls back with a reason where the device lacks the feature', async () => {
    const backend = tf.backend() as unknown as { device: { features: Set<string> } };
    if (backend.device.features.has(SUBGROUP_MATRIX_FEATURE)) return; // a GPU with tensor cores: int8-bench checks it
    expect(subgroupMatrixUnavailableReason(backend)).toMatch(/lacks 'chromium-experimental-subgroup-matrix'.*unsafeApis/);
    const probe = await prepareInt8SubgroupMatrix();
    expect(probe.variant).toBeNull();
    expect(probe.reason).toMatch(/chromium-experimental-subgroup-matrix/);
    expect(await resolveInt8Kernel('auto')).toEqual({ kernel: null, reason: probe.reason });
    await expect(resolveInt8Kernel('subgroup-matrix')).rejects.toBeInstanceOf(ConfigError);
    const mlp = new Mlp(16, 32, 16, { seed: 1 });
    const x = tf.randomNormal([3, 16], 0, 1, 'float32', 4);
    const before = mlp.forward(x);
    const q = await quantizeLinears(mlp, { mode: 'w8a8' }); // 'auto'
    expect(q.kernel).toBeNull();
    expect(q.layers).toEqual([]);
    const after = mlp.forward(x);
    expect([...(await after.data())]).toEqual([...(await before.data())]); // still fp32, bit for bit
    q.dispose();
    tf.dispose([x, before, after]);
    mlp.dispose();
  });

  it('quantizeLinears swaps every Linear (filter respected), stays close to fp32, leaks nothing, and dispose() restores fp32', async () => {
    const mlp = new Mlp(64, 128, 48, { seed: 5, act: 'gelu' });
    const x = tf.randomNormal([4, 7, 64], 0, 1, 'float32', 6);
    const yFp32 = mlp.forward(x);
    const tensorsBefore = tf.memory().numTensors;
    const q = await quantizeLinears(mlp, { mode: 'w8a8', kernel: 'scalar' });
    expect(q.kernel).toBe('scalar');
    expect(q.layers).toEqual(['fc1', 'fc2']);
    expect(tf.memory().numTensors).toBe(tensorsBefore + 2); // one int8 tensor per layer
    const y = await expectNoLeaks(() => mlp.forward(x), 'W8A8 Mlp.forward');
    expect(y.shape).toEqual([4, 7, 48]);
    const err = await relativeL2(y, yFp32);
    expect(err).toBeGreaterThan(0); // it did run in int8
    // two int8 layers (each ~0.6% from the activations' and ~0.6% from the weights' rounding on
    // Gaussian data) compound to ~1.2%
    expect(err).toBeLessThan(2e-2);
    await expect(quantizeLinears(mlp, { mode: 'w8a8', kernel: 'scalar' })).rejects.toThrow(/fc1 is already quantised/);
    q.dispose();
    expect(tf.memory().numTensors).toBe(tensorsBefore + 1); // y
    const back = mlp.forward(x);
    expect([...(await back.data())]).toEqual([...(await yFp32.data())]);
    const only = await quantizeLinears(mlp, { mode: 'w8a8', kernel: 'scalar', filter: (path) => path !== 'fc2' });
    expect(only.layers).toEqual(['fc1']);
    expect(only.skipped).toEqual(['fc2']);
    const numBeforeDispose = tf.memory().numTensors;
    mlp.dispose(); // frees the int8 weight with the module's own
    expect(tf.memory().numTensors).toBe(numBeforeDispose - 1 - 4);
    tf.dispose([x, yFp32, y, back]);
  });

  it('refuses an unknown mode', async () => {
    const lin = new Linear(4, 4);
    await expect(quantizeLinears(lin, { mode: 'w4a16' as 'w8a8' })).rejects.toThrow(/mode 'w4a16' is not supported/);
    lin.dispose();
  });
}, { backends: ['webgpu'] });

describeBackends('W8A8 off WebGPU: falls back to fp32', () => {
  it("'auto' keeps fp32 and says why; a named kernel throws", async () => {
    const r = await resolveInt8Kernel('auto');
    expect(r.kernel).toBeNull();
    expect(r.reason).toMatch(/webgpu backend only/);
    await expect(resolveInt8Kernel('scalar')).rejects.toThrow(/int8 kernels run on the webgpu backend only/);
    const lin = new Linear(8, 4);
    const q = await quantizeLinears(lin, { mode: 'w8a8' });
    expect(q.kernel).toBeNull();
    q.dispose();
    lin.dispose();
  });
}, { backends: ['cpu'] });

describe('initBackend unsafeApis: the webgpu factory asks for the int8 features the adapter offers', () => {
  it('requests subgroups + subgroup matrices (+ timestamp-query) with the adapter limits, keeps the adapter info', async () => {
    const registered: Record<string, () => Promise<unknown>> = {};
    const removed: string[] = [];
    const fakeTf = {
      removeBackend: (n: string) => removed.push(n),
      registerBackend: (n: string, f: () => Promise<unknown>) => { registered[n] = f; },
      env: () => ({ get: () => false }),
    };
    let asked: { requiredFeatures: string[]; requiredLimits: Record<string, number> } | null = null;
    const info = { vendor: 'nvidia', subgroupMatrixConfigs: [{ componentType: 'i8', resultComponentType: 'i32', M: 16, N: 16, K: 32 }], subgroupMaxSize: 32 };
    const adapter = {
      features: new Set(['subgroups', SUBGROUP_MATRIX_FEATURE, 'shader-f16']),
      limits: { maxComputeWorkgroupStorageSize: 49152, maxComputeWorkgroupsPerDimension: 65535, maxStorageBufferBindingSize: 2 ** 31 - 4, maxBufferSize: 2 ** 40, maxComputeWorkgroupSizeX: 1024, maxComputeInvocationsPerWorkgroup: 1024 },
      info,
      requestDevice: async (d: typeof asked) => { asked = d; return { features: new Set(d!.requiredFeatures) }; },
    };
    class FakeBackend { faeAdapterInfo?: unknown; constructor(readonly device: unknown, readonly info: unknown) {} }
    registerWebGPUFactoryWithInt8Features(fakeTf, FakeBackend, () => ({ requestAdapter: async () => adapter }));
    expect(removed).toEqual(['webgpu']);
    const backend = (await registered.webgpu()) as FakeBackend & { device: { features: Set<string> } };
    expect(asked!.requiredFeatures).toEqual(['subgroups', SUBGROUP_MATRIX_FEATURE]); // no timestamp-query offered
    expect(asked!.requiredLimits.maxComputeWorkgroupStorageSize).toBe(49152);
    expect(backend.faeAdapterInfo).toBe(info);
    expect(subgroupMatrixUnavailableReason(backend)).toBeNull();
    const noConfig = { device: backend.device, faeAdapterInfo: { subgroupMatrixConfigs: [{ componentType: 'u8', resultComponentType: 'u32', M: 16, N: 16, K: 32 }] } };
    expect(subgroupMatrixUnavailableReason(noConfig)).toMatch(/no i8 -> i32 M16 N16 K32 .*u8->u32 16x16x32/);
    expect(subgroupMatrixUnavailableReason({ device: { features: new Set(['subgroups']) }, faeAdapterInfo: {} })).toMatch(/this adapter does not offer it/);
  });
});

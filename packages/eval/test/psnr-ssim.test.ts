import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { ref64, ref64eval } from '@fae/testing';
import { psnr, psnrSsimBatch, ssim } from '@fae/eval';

const H = 12, W = 10, C = 3;
const img = (seed: number, scale = 1) => Float64Array.from(ref64.randomNd([H, W, C], seed).data, (v) => 0.5 + 0.4 * scale * v);

describe('PSNR (skimage peak_signal_noise_ratio)', () => {
  it('hand-derived values: uint8 offset of 10 gives 10 log10(255^2 / 100)', () => {
    const a = new Uint8Array(H * W * C).fill(100);
    const b = new Uint8Array(H * W * C).fill(110);
    expect(psnr({ data: a, shape: [H, W, C] }, { data: b, shape: [H, W, C] })).toBeCloseTo(10 * Math.log10(65025 / 100), 12);
    // floats in [0, 1]: half the pixels off by 0.1 -> MSE 0.005
    const f = new Float64Array(H * W * C).fill(0.5);
    const g = f.map((v, i) => (i % 2 ? v + 0.1 : v));
    expect(psnr({ data: f, shape: [H, W, C] }, { data: g, shape: [H, W, C] }, { dataRange: 1 })).toBeCloseTo(10 * Math.log10(1 / 0.005), 9);
    expect(psnr({ data: a, shape: [H, W, C] }, { data: a, shape: [H, W, C] })).toBe(Infinity);
    expect(() => psnr({ data: f, shape: [H, W, C] }, { data: g, shape: [H, W, C] })).toThrow(/data_range is required/);
  });
});

describe('SSIM (skimage structural_similarity defaults, channel_axis=-1)', () => {
  it('identical images give 1; constant images give the closed form (2 a b + C1) / (a^2 + b^2 + C1)', () => {
    const a = img(1);
    expect(ssim({ data: a, shape: [H, W, C] }, { data: a, shape: [H, W, C] }, { dataRange: 1 })).toBeCloseTo(1, 12);
    const ca = new Float64Array(H * W * C).fill(0.3);
    const cb = new Float64Array(H * W * C).fill(0.6);
    const C1 = 0.01 ** 2;
    expect(ssim({ data: ca, shape: [H, W, C] }, { data: cb, shape: [H, W, C] }, { dataRange: 1 })).toBeCloseTo((2 * 0.3 * 0.6 + C1) / (0.09 + 0.36 + C1), 12);
  });

  it('matches direct 7x7-window sums (sample covariance, 3-pixel border cropped) in float64', () => {
    for (const [s1, s2, R] of [[1, 2, 1], [3, 4, 2]] as const) {
      const a = img(s1);
      const b = Float64Array.from(img(s2, 0.5), (v, i) => 0.7 * a[i] + v * 0.3);
      const got = ssim({ data: a, shape: [H, W, C] }, { data: b, shape: [H, W, C] }, { dataRange: R });
      expect(Math.abs(got - ref64eval.ssimDirect(a, b, H, W, C, R))).toBeLessThan(1e-12);
    }
  });

  it('batch helper reads NHWC tensors; uint8 pixels default to data_range 255', async () => {
    const a = Int32Array.from({ length: 2 * H * W * C }, (_, i) => (i * 37) % 256);
    const b = Int32Array.from(a, (v, i) => Math.min(255, v + (i % 5)));
    const ta = tf.tensor4d(a, [2, H, W, C], 'int32');
    const tb = tf.tensor4d(b, [2, H, W, C], 'int32');
    const r = await psnrSsimBatch(ta, tb);
    const n = H * W * C;
    expect(r.psnr[1]).toBeCloseTo(psnr({ data: a.subarray(n), shape: [H, W, C], integer: true }, { data: b.subarray(n), shape: [H, W, C] }), 12);
    expect(r.ssim[0]).toBeCloseTo(ref64eval.ssimDirect(a.subarray(0, n), b.subarray(0, n), H, W, C, 255), 12);
    tf.dispose([ta, tb]);
  });
});

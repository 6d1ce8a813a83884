import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { describeBackends, describeFixture, expectClose, expectNoLeaks, ref64, ref64images } from '@fae/testing';
import {
  antialiasWeights, axisWeightsToMatrix, ConfigError, imageToTensor, parseSafetensors, resizeImage, resizeMatrix, resizeTensor,
  separableResize, torchInterpMatrix, type RawImage,
} from '@fae/core';

/** Deterministic test pattern (same formula as the script that made the Pillow goldens below). */
function pattern(h: number, w: number, c: number, seed: number): RawImage {
  const data = new Uint8Array(h * w * c);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let ch = 0; ch < c; ch++) {
        const v = Number((BigInt(x * 37 + y * 91 + ch * 53 + seed * 17) * 2654435761n) % 4294967296n);
        data[(y * w + x) * c + ch] = Math.floor(v / 8192) % 256;
      }
  return { width: w, height: h, channels: c as RawImage['channels'], data };
}

// Outputs of Pillow 9.4 `Image.fromarray(pattern).resize((W, H), resample, box, reducing_gap=None)`,
// base64 of the uint8 HWC pixels.
const PIL_GOLDEN = [
  { name: 'rgb down bicubic', h: 9, w: 11, c: 3, seed: 1, W: 5, H: 4, resample: 3, box: undefined, out: 'c1F4m41tgZ6saWGGm3hfnI2TX3GIgHFup4+LZXmUW2BhlYZxl4qmWFxtjXZpl5+VcYujcmxKm5eFf5Ot' },
  { name: 'rgb up bicubic', h: 5, w: 6, c: 3, seed: 2, W: 13, H: 10, resample: 3, box: undefined, out: '/9S21eC+U//PAOzlCmr/Kgj+RheIY0MVdlcWhmdFmHldqYptsJJz8cWnz8+vc+zAOOLUSorxYD/wVyygTy9MXTw0dVA1iWZCmnpWoYNexqOFwqyNtcCetcyx087G0rPSelrUJAbBKQJxUSEVaDwJeFcmf2Iwn4Fdq4lmxZl64bGQ/9mg+92ypYbYSivpLiqeL0g6O0ctUDlKVzZVgWIyimo9nntXtI9xyaeC1LWS1qypwqG7cLe0EsqnBYmxIiXGLADOXD5bZUVaeVZMj2pJn31dsZJz162D6MaVneOuOfHILLDeSUzuVCf2MRPZPBq8VipXcEAYgVoxkXNUqIllupt2s6+Kpr+esLyyxa7DzavLXT39W0XiTliETGM8XFcub1Axf19AknRVqoNmxJR32q6K6sib8tSj17LLu7zMX9bNI82tM3NSTSwOXjQVcFIzhGJEmHNVq4hovJx5xKWB/+mz6fTCZ//vEf/iH4BjPhsATyABYUEiclM1g2RGlndZp4hqr5By' },
  { name: 'rgb down bilinear', h: 12, w: 10, c: 3, seed: 3, W: 7, H: 5, resample: 2, box: undefined, out: 'Z1yEcWpqooZxqoyZYISKZmJ/c2hulYuCnJiZcqCKZGdofnVrlI6CoZedg4OdYX1gfG5okYd9gpmSgIiaYHtdjneCgI54g4aPa3+SdHhwjnphfpF4o4WwWWp7aFlwmn1ioqeJnoKQVW92' },
  { name: 'gray lanczos', h: 8, w: 9, c: 1, seed: 4, W: 5, H: 11, resample: 1, box: undefined, out: 'chd/zmmsYjepnr7EQ1q8bcHHLXs4j9s4NE43rZ5BnTpl1JPNpC6NwqDYGEKrVaiDQFs+deReMA==' },
  { name: 'rgb box', h: 10, w: 7, c: 3, seed: 5, W: 4, H: 6, resample: 4, box: undefined, out: 'T3BSmHlbz7CShqjJctO1Ox1+clM1qYtslXZYnsChlXbYTG5PWXqcYkRlmXpckLKTvJ1/hefIPB7/c1U2X0FiqIps38GiV3ia' },
  { name: 'rgb hamming', h: 7, w: 10, c: 3, seed: 6, W: 12, H: 5, resample: 5, box: undefined, out: 'xqiK6MqreebHQL2fOEowWTtQfmBCoIFjvJ1/07WW39GyRvLUcFEzkXNUrY9wpqaIfbqknYDFKaWHSTaoZUZafF4/mHpbupt9LejKPEEiVz8tb1A/i2xOrI5vvrOU4MK2Z93FM7CSQjYYZEU6xKWHVceoZXjEXV6qNXJcVjh9e10+nX5guZp8n7KTUMKvclTRbU4wjnBRqoxtsaOFqbuhyqzCJdGzRjfUYkNleVs8lXdYt5l6' },
  { name: 'rgb nearest', h: 9, w: 7, c: 3, seed: 7, W: 4, H: 11, resample: 0, box: undefined, out: 'TC4PlXdZ38CiKArrDvDRWDkboYJk6syt0LKTGvvdY0UmrI5v0LKTGvvdY0UmrI5vknRV3L2fJQfoblAyVDYXnn9h58mqMRL0FvjZYEEjqYts89S22LqcIgPla00utZZ42LqcIgPla00utZZ4mnxe5MWnLQ/wd1g6XT4gpodp79GyORr8' },
  { name: 'rgba bicubic', h: 8, w: 8, c: 4, seed: 8, W: 5, H: 6, resample: 3, box: undefined, out: '5L+XYGG9zqRLUpHiVkYKYdmzgT1aMwxj7Kx/RJ7fs5IicICvPxBSfCt2sbxIL1qmrn1QOZ2xtXNRm5++18Krbma6xrpJMO2DdDALRNLMjktmPRdr6LyBUaWKt6AsXIe4SR5ahCx6tshGDtk2waxWPqO4uoNVoajI' },
  { name: 'rgb bicubic box', h: 10, w: 12, c: 3, seed: 9, W: 6, H: 5, resample: 3, box: [1.5, 0.5, 10.0, 9.0] as [number, number, number, number], out: 'SUhkdlpWuJBrlMeePXSVUUtfk72jeIy6R2qQek1ZtJBtkb6odkpRqZNkybytd2exOVVje05Pb62uXE+lbkZAp5Jgpqysaq2vo4ZrxZ+fV4GXR0qBc1xIqItv' },
];

describe('resizeImage (uint8, exact)', () => {
  for (const g of PIL_GOLDEN) {
    it(`matches Pillow bit for bit: ${g.name}`, () => {
      const out = resizeImage(pattern(g.h, g.w, g.c, g.seed), { width: g.W, height: g.H, resample: g.resample, box: g.box });
      expect([out.width, out.height, out.channels]).toEqual([g.W, g.H, g.c]);
      expect(Buffer.from(out.data).toString('base64')).toBe(g.out);
    });
  }

  it('PIL uint8 output is the float64 antialias resize rounded, to within one level', () => {
    const img = pattern(23, 31, 3, 11);
    const x = ref64.nd([1, 23, 31, 3], img.data);
    for (const [filter, code] of [['bicubic', 3], ['bilinear', 2], ['lanczos', 1]] as const) {
      const out = resizeImage(img, { width: 17, height: 40, resample: code });
      const ref = ref64images.resizeAntialias(x, 40, 17, filter);
      let maxd = 0;
      // Two passes with uint8 rounding in between: each pass rounds (<= 0.5) and clips.
      for (let i = 0; i < ref.data.length; i++) maxd = Math.max(maxd, Math.abs(out.data[i] - Math.min(255, Math.max(0, ref.data[i]))));
      expect(maxd, filter).toBeLessThanOrEqual(filter === 'bilinear' ? 1 : 2.5);
    }
  });

  it("'torch' algorithm differs from 'pil' only by rounding of its int16 weights", () => {
    const img = pattern(40, 50, 3, 3);
    const a = resizeImage(img, { width: 37, height: 29, resample: 'bicubic', algorithm: 'pil' });
    const b = resizeImage(img, { width: 37, height: 29, resample: 'bicubic', algorithm: 'torch' });
    let diff = 0;
    for (let i = 0; i < a.data.length; i++) {
      expect(Math.abs(a.data[i] - b.data[i])).toBeLessThanOrEqual(1);
      diff += a.data[i] !== b.data[i] ? 1 : 0;
    }
    expect(diff / a.data.length).toBeLessThan(0.05);
    expect(() => resizeImage(img, { width: 5, height: 5, resample: 'lanczos', algorithm: 'torch' })).toThrow(ConfigError);
  });

  it('same size is a copy; bad sizes and filters are ConfigErrors', () => {
    const img = pattern(4, 5, 3, 1);
    const same = resizeImage(img, { width: 5, height: 4 });
    expect(same.data).toEqual(img.data);
    expect(same.data).not.toBe(img.data);
    expect(() => resizeImage(img, { width: 0, height: 4 })).toThrow(ConfigError);
    expect(() => resizeImage(img, { width: 3, height: 4, resample: 9 })).toThrow(/unknown PIL resample code 9/);
  });
});

describeFixture('resizeImage on the processor fixtures', ['encoders', 'dinov2_processor'], (dir) => {
  it("'torch' reproduces the fixture's resize exactly; 'pil' to within one level", () => {
    const io = parseSafetensors(new Uint8Array(readFileSync(join(dir, 'io.safetensors'))));
    const data = io.readSync('input.image_uint8_hwc') as Uint8Array;
    const [h, w] = io.info('input.image_uint8_hwc')!.shape;
    const ref = io.readSync('output.pixel_values') as Float32Array; // [1, 3, 224, 224], ImageNet-normalised
    const mean = [0.485, 0.456, 0.406];
    const std = [0.229, 0.224, 0.225];
    for (const algorithm of ['torch', 'pil'] as const) {
      const r = resizeImage({ width: w, height: h, channels: 3, data }, { width: 384, height: 256, resample: 3, algorithm });
      let mismatches = 0;
      let maxd = 0;
      for (let c = 0; c < 3; c++)
        for (let y = 0; y < 224; y++)
          for (let x = 0; x < 224; x++) {
            const level = Math.round(((ref[(c * 224 + y) * 224 + x] * std[c] + mean[c]) * 255));
            const ours = r.data[((y + 16) * 384 + x + 80) * 3 + c];
            maxd = Math.max(maxd, Math.abs(level - ours));
            mismatches += level !== ours ? 1 : 0;
          }
      expect(maxd, algorithm).toBeLessThanOrEqual(1);
      if (algorithm === 'torch') expect(mismatches).toBe(0);
      else expect(mismatches).toBeLessThan(100);
    }
  });
});

describeBackends('resizeTensor', () => {
  it('antialias resize (down and up, several filters) matches the float64 reference', async () => {
    const x = ref64.randomNd([2, 11, 9, 3], 5, 100);
    const xt = ref64.toTensor(x);
    for (const [filter, oh, ow] of [['bicubic', 5, 4], ['bicubic', 17, 20], ['bilinear', 6, 13], ['lanczos', 7, 3], ['hamming', 14, 6]] as const) {
      const y = await expectNoLeaks(() => resizeTensor(xt, { height: oh, width: ow }, { method: filter }));
      expect(y.shape).toEqual([2, oh, ow, 3]);
      await expectClose(y, ref64images.resizeAntialias(x, oh, ow, filter).data, 1e-5, filter);
      y.dispose();
    }
    xt.dispose();
  });

  it('antialias=false reproduces PyTorch interpolate bicubic (a=-0.75) and bilinear', async () => {
    const x = ref64.randomNd([1, 6, 7, 4], 6);
    const xt = ref64.toTensor(x);
    for (const [mode, oh, ow] of [['bicubic', 9, 4], ['bicubic', 3, 13], ['bilinear', 10, 5]] as const) {
      const y = await expectNoLeaks(() => resizeTensor(xt, { height: oh, width: ow }, { method: mode, antialias: false }));
      await expectClose(y, ref64images.resizeTorch(x, oh, ow, mode).data, 1e-5, mode);
      y.dispose();
    }
    expect(() => resizeTensor(xt, { height: 3, width: 3 }, { method: 'lanczos', antialias: false })).toThrow(ConfigError);
    xt.dispose();
  });

  it('a 3-D [H, W, C] image works and uint8-valued int tensors are cast', async () => {
    const img = pattern(8, 6, 3, 2);
    const t = imageToTensor(img, { dtype: 'int32' });
    const y = await expectNoLeaks(() => resizeTensor(t, { height: 4, width: 5 }));
    expect(y.shape).toEqual([4, 5, 3]);
    const ref = ref64images.resizeAntialias(ref64.nd([1, 8, 6, 3], img.data), 4, 5, 'bicubic');
    await expectClose(y, ref.data, 1e-5);
    tf.dispose([t, y]);
  });

  it('weight tables agree with the float64 definitions', () => {
    const a = axisWeightsToMatrix(antialiasWeights(13, 5, 'bicubic'));
    const b = ref64images.antialiasMatrix(13, 5, 'bicubic');
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThan(1e-12);
    const c = torchInterpMatrix(4, 9, { mode: 'bicubic' });
    const d = ref64images.torchBicubicMatrix(4, 9);
    for (let i = 0; i < c.length; i++) expect(Math.abs(c[i] - d[i])).toBeLessThan(1e-12);
    expect(resizeMatrix(5, 5, { method: 'bilinear', antialias: false })).toEqual(Float64Array.from({ length: 25 }, (_, i) => (i % 6 === 0 ? 1 : 0)));
  });

  it('separableResize has gradients equal to the transposed weights', async () => {
    const mh = tf.tensor2d([[0.25, 0.75], [1, 0], [0.5, 0.5]]); // [H=3, H'=2]
    const mw = tf.tensor2d([[1], [2]]); // [W=2, W'=1]
    const x = tf.ones([1, 3, 2, 1]);
    const g = tf.grad((v: tf.Tensor) => tf.sum(separableResize(v, mh, mw, [1, 3, 2, 1])))(x);
    // d/dx[h, w] of sum_{h', w'} mh[h, h'] mw[w, w'] x[h, w] = (sum_h' mh[h, h']) * (sum_w' mw[w, w'])
    await expectClose(g, [1, 2, 1, 2, 1, 2], 1e-6);
    tf.dispose([mh, mw, x, g]);
  });
});

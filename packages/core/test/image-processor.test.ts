import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { describeBackends, describeFixture, expectClose, expectNoLeaks, relError } from '@fae/testing';
import {
  centerCrop, centerCropTensor, ConfigError, ImageProcessor, imageToTensor, imagesToTensor, normalizeTensor, parsePreprocessorConfig,
  parseSafetensors, preprocessFromConfig, rescaleTensor, shortestEdgeSize, ShapeError, tensorToImages, toRGB, toRGBA, type RawImage,
} from '@fae/core';

function loadProcessorFixture(dir: string) {
  const io = parseSafetensors(new Uint8Array(readFileSync(join(dir, 'io.safetensors'))));
  const [h, w] = io.info('input.image_uint8_hwc')!.shape;
  const image: RawImage = { width: w, height: h, channels: 3, data: io.readSync('input.image_uint8_hwc') as Uint8Array };
  const refNchw = io.readSync('output.pixel_values') as Float32Array;
  const [, c, oh, ow] = io.info('output.pixel_values')!.shape;
  const refNhwc = new Float32Array(refNchw.length);
  for (let ch = 0; ch < c; ch++) for (let y = 0; y < oh; y++) for (let x = 0; x < ow; x++) refNhwc[(y * ow + x) * c + ch] = refNchw[(ch * oh + y) * ow + x];
  const config = JSON.parse(readFileSync(join(dir, 'preprocessor_config.json'), 'utf8'));
  return { image, config, refNhwc, outShape: [1, oh, ow, c] };
}

for (const name of ['dinov2_processor', 'siglip_processor']) {
  describeFixture(`preprocessFromConfig: ${name}`, ['encoders', name], (dir) => {
    describeBackends(name, () => {
      it("'torch' (transformers' fast processor, default) reproduces pixel_values exactly", async () => {
        const f = loadProcessorFixture(dir);
        const px = await expectNoLeaks(() => preprocessFromConfig(f.config, f.image));
        expect(px.shape).toEqual(f.outShape);
        const r = relError(await px.data(), f.refNhwc);
        expect(r.maxAbs).toBeLessThanOrEqual(1e-6);
        px.dispose();
      });

      it("'pil' (slow PIL processor) agrees to one uint8 level", async () => {
        const f = loadProcessorFixture(dir);
        const px = ImageProcessor.fromConfig(f.config, { algorithm: 'pil' }).preprocess([f.image]);
        const r = relError(await px.data(), f.refNhwc);
        expect(r.maxAbs).toBeLessThan(1.01 / 255 / Math.min(...(f.config.image_std as number[])));
        px.dispose();
      });

      it('preprocessTensor (float, on device) stays within a level of the reference; quantized, nearly exact', async () => {
        const f = loadProcessorFixture(dir);
        const p = ImageProcessor.fromConfig(f.config);
        const x = imagesToTensor([f.image]);
        const level = 1 / 255 / Math.min(...(f.config.image_std as number[]));
        const px = await expectNoLeaks(() => p.preprocessTensor(x));
        expect(px.shape).toEqual(f.outShape);
        const r = relError(await px.data(), f.refNhwc);
        expect(r.maxAbs).toBeLessThan(1.01 * level);
        const pq = await expectNoLeaks(() => p.preprocessTensor(x, { quantize: true }));
        const q = relError(await pq.data(), f.refNhwc);
        expect(q.maxAbs).toBeLessThan(1.01 * level);
        tf.dispose([x, px, pq]);
      });
    });
  });
}

describe('preprocessor config parsing', () => {
  it('reads BitImageProcessor and SiglipImageProcessor configs', () => {
    const bit = parsePreprocessorConfig({ image_processor_type: 'BitImageProcessor', size: { shortest_edge: 256 }, crop_size: { height: 224, width: 224 }, do_center_crop: true, resample: 3, image_mean: [0.485, 0.456, 0.406], image_std: [0.229, 0.224, 0.225] });
    expect(bit.resize).toEqual({ kind: 'shortest_edge', shortestEdge: 256, longestEdge: undefined });
    expect(bit.crop).toEqual({ height: 224, width: 224 });
    expect(bit.resample).toBe('bicubic');
    expect(bit.rescaleFactor).toBeCloseTo(1 / 255, 12);
    const sig = parsePreprocessorConfig({ image_processor_type: 'SiglipImageProcessor', size: { height: 256, width: 256 }, resample: 2 });
    expect(sig.resize).toEqual({ kind: 'fixed', height: 256, width: 256 });
    expect(sig.crop).toBeNull();
    expect(sig.mean).toEqual([0.5, 0.5, 0.5]);
    expect(parsePreprocessorConfig({ image_processor_type: 'CLIPImageProcessor', size: 224, crop_size: 224 }).resize).toEqual({ kind: 'shortest_edge', shortestEdge: 224 });
    expect(parsePreprocessorConfig({ image_processor_type: 'ViTImageProcessor', size: 224 }).resize).toEqual({ kind: 'fixed', height: 224, width: 224 });
  });

  it('rejects broken configs with ConfigError naming the problem', () => {
    expect(() => parsePreprocessorConfig({ size: {} })).toThrow(/neither shortest_edge nor height\/width/);
    expect(() => parsePreprocessorConfig({ size: 8, image_mean: [0.5, 0.5] })).toThrow(ConfigError);
    expect(() => parsePreprocessorConfig({ size: 8, resample: 7 })).toThrow(/resample/);
    expect(() => parsePreprocessorConfig({ size: 8, do_center_crop: true })).toThrow(/crop_size/);
  });

  it('computes output sizes like get_resize_output_image_size', () => {
    expect(shortestEdgeSize(200, 300, 256)).toEqual([256, 384]);
    expect(shortestEdgeSize(300, 200, 256)).toEqual([384, 256]);
    expect(shortestEdgeSize(333, 500, 224)).toEqual([224, 336]);
    expect(shortestEdgeSize(100, 1000, 50, 300)).toEqual([30, 300]);
    const p = ImageProcessor.fromConfig({ size: { shortest_edge: 256 }, crop_size: { height: 224, width: 224 }, do_center_crop: true });
    expect(p.outputSize(480, 640)).toEqual([224, 224]);
  });

  it('batches only images with one output size', () => {
    const p = ImageProcessor.fromConfig({ image_processor_type: 'BitImageProcessor', size: { shortest_edge: 8 }, do_center_crop: false });
    const a: RawImage = { width: 10, height: 10, channels: 3, data: new Uint8Array(300) };
    const b: RawImage = { width: 20, height: 10, channels: 3, data: new Uint8Array(600) };
    expect(() => p.preprocess([a, b])).toThrow(ShapeError);
  });
});

describe('center crop and channel conversion (transformers semantics)', () => {
  const img: RawImage = { width: 5, height: 4, channels: 1, data: Uint8Array.from({ length: 20 }, (_, i) => i + 1) };
  it('crops with floor offsets', () => {
    expect(Array.from(centerCrop(img, 2, 3).data)).toEqual([7, 8, 9, 12, 13, 14]);
  });
  it('pads with zeros, centred with ceil, when the crop is larger', () => {
    const c = centerCrop(img, 7, 6); // top pad ceil(3/2) = 2, left pad ceil(1/2) = 1
    expect(c.height).toBe(7);
    const rows = Array.from({ length: 7 }, (_, y) => Array.from(c.data.subarray(y * 6, y * 6 + 6)));
    expect(rows[0]).toEqual([0, 0, 0, 0, 0, 0]);
    expect(rows[2]).toEqual([0, 1, 2, 3, 4, 5]);
    expect(rows[5]).toEqual([0, 16, 17, 18, 19, 20]);
    expect(rows[6]).toEqual([0, 0, 0, 0, 0, 0]);
  });
  it('converts gray, gray+alpha and RGBA to RGB like PIL (alpha dropped)', () => {
    expect(Array.from(toRGB({ width: 1, height: 1, channels: 2, data: Uint8Array.of(9, 100) }).data)).toEqual([9, 9, 9]);
    expect(Array.from(toRGB({ width: 1, height: 1, channels: 4, data: Uint8Array.of(1, 2, 3, 0) }).data)).toEqual([1, 2, 3]);
    expect(Array.from(toRGBA({ width: 1, height: 1, channels: 1, data: Uint8Array.of(7) }).data)).toEqual([7, 7, 7, 255]);
  });
});

describeBackends('image tensor ops', () => {
  it('centerCropTensor equals centerCrop on RawImages (crop and pad)', async () => {
    const img: RawImage = { width: 5, height: 4, channels: 3, data: Uint8Array.from({ length: 60 }, (_, i) => (i * 7) % 256) };
    const t = imageToTensor(img);
    for (const [ch, cw] of [[2, 3], [7, 6], [4, 2]]) {
      const y = await expectNoLeaks(() => centerCropTensor(t, ch, cw));
      expect(y.shape).toEqual([ch, cw, 3]);
      expect(Array.from(await y.data())).toEqual(Array.from(centerCrop(img, ch, cw).data));
      y.dispose();
    }
    t.dispose();
  });

  it('rescale and normalise per channel; tensors round-trip to RawImages', async () => {
    const img: RawImage = { width: 2, height: 1, channels: 3, data: Uint8Array.of(0, 128, 255, 10, 20, 30) };
    const t = imagesToTensor([img, img]);
    const y = await expectNoLeaks(() => tf.tidy(() => normalizeTensor(rescaleTensor(t, 1 / 255), [0.5, 0.25, 0], [0.5, 0.25, 1])));
    await expectClose(y, [0, 128, 255, 10, 20, 30].map((v, i) => (v / 255 - [0.5, 0.25, 0][i % 3]) / [0.5, 0.25, 1][i % 3]).concat(
      [0, 128, 255, 10, 20, 30].map((v, i) => (v / 255 - [0.5, 0.25, 0][i % 3]) / [0.5, 0.25, 1][i % 3])), 1e-6);
    const back = await tensorToImages(t);
    expect(back.length).toBe(2);
    expect(back[1]).toEqual(img);
    const signed = tf.tensor4d([-1, 0, 1, 2], [1, 1, 4, 1]);
    expect(Array.from((await tensorToImages(signed, { range: [-1, 1] }))[0].data)).toEqual([0, 128, 255, 255]);
    expect(() => normalizeTensor(t, [0.5, 0.5], 1)).toThrow(ShapeError);
    tf.dispose([t, y, signed]);
  });
});

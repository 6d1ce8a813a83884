// Parity of @fae/core's image preprocessing against transformers' image processors. Recognised by
// content: preprocessor_config.json plus io.safetensors with input.image_uint8_hwc (uint8 HWC) and
// output.pixel_values (NCHW float32). Judged at 1e-4 relative with the default resize ('torch',
// transformers' fast processors); the PIL resize (slow processors) is reported too, judged at 1e-2
// relative (it may differ by one uint8 level where PyTorch's and PIL's fixed-point rounding differ).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ImageProcessor, parseSafetensors, type RawImage } from '@fae/core';
import type { FixtureFiles, ParityHandler, ParityOutput } from '../types.js';
import { compareOutput } from './dinov2.js';

export async function runProcessorParity(dir: string): Promise<ParityOutput[]> {
  const config = JSON.parse(await readFile(join(dir, 'preprocessor_config.json'), 'utf8'));
  const io = parseSafetensors(await readFile(join(dir, 'io.safetensors')), join(dir, 'io.safetensors'));
  const [h, w, c] = io.info('input.image_uint8_hwc')!.shape;
  const image: RawImage = { width: w, height: h, channels: c as RawImage['channels'], data: io.readSync('input.image_uint8_hwc') as Uint8Array };
  const ref = io.readSync('output.pixel_values') as Float32Array;
  const refShape = io.info('output.pixel_values')!.shape;
  const results: ParityOutput[] = [];
  for (const [algorithm, tol] of [['torch', 1e-4], ['pil', 1e-2]] as const) {
    const nchw = tf.tidy(() => tf.transpose(ImageProcessor.fromConfig(config, { algorithm }).preprocess(image), [0, 3, 1, 2]));
    const out = compareOutput(algorithm === 'torch' ? 'pixel_values' : 'pixel_values (PIL resize)', await nchw.data(), ref, nchw.shape, refShape, 'output.pixel_values', tol);
    nchw.dispose();
    results.push(out);
  }
  return results;
}

export const processorHandler: ParityHandler = {
  name: 'image-processor',
  detect: (f: FixtureFiles) =>
    f.files.includes('preprocessor_config.json') && !!f.ioKeys?.includes('input.image_uint8_hwc') && !!f.ioKeys?.includes('output.pixel_values'),
  run: (f: FixtureFiles) => runProcessorParity(f.dir),
};

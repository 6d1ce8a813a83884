// Parity of @fae/eval's Lpips (VGG16) against the lpips package (fixture eval/lpips_vgg): procedural
// VGG16 weights under torchvision key names (vgg16_weights.json) and the published v0.1 linear layers
// (lpips_lin_v0.1.safetensors); inputs in [-1, 1] NCHW (transposed to NHWC here); outputs the total
// distance and the five per-layer terms.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { parseSafetensors } from '@fae/core';
import { Lpips, proceduralStore } from '@fae/eval';
import { errorStats } from '../fixture-files.js';
import type { FixtureFiles, ParityHandler, ParityOutput } from '../types.js';

const linFile = (f: FixtureFiles) => f.files.find((n) => /^lpips.*\.safetensors$/.test(n));
const vggFile = (f: FixtureFiles) => f.files.find((n) => /vgg16.*\.json$/.test(n));

/** float32 NCHW -> NHWC (JS-side). */
function nchwToNhwcF32(data: Float32Array, [B, C, H, W]: number[]): Float32Array {
  const out = new Float32Array(data.length);
  for (let b = 0; b < B; b++)
    for (let c = 0; c < C; c++)
      for (let h = 0; h < H; h++)
        for (let w = 0; w < W; w++) out[((b * H + h) * W + w) * C + c] = data[((b * C + c) * H + h) * W + w];
  return out;
}

/** A Lpips module with the fixture's backbone and linear layers. */
export async function loadLpipsFixtureModel(dir: string, vgg = 'vgg16_weights.json', lin = 'lpips_lin_v0.1.safetensors'): Promise<Lpips> {
  const model = new Lpips();
  await model.loadBackbone(proceduralStore(JSON.parse(await readFile(join(dir, vgg), 'utf8')), join(dir, vgg)));
  await model.loadLinearLayers(parseSafetensors(new Uint8Array(await readFile(join(dir, lin))), join(dir, lin)));
  return model;
}

export async function runLpipsFixture(dir: string, vgg?: string, lin?: string): Promise<ParityOutput[]> {
  const io = parseSafetensors(new Uint8Array(await readFile(join(dir, 'io.safetensors'))), join(dir, 'io.safetensors'));
  const model = await loadLpipsFixtureModel(dir, vgg, lin);
  try {
    const shape = io.info('input.a')!.shape; // [B, 3, H, W]
    const nhwc: [number, number, number, number] = [shape[0], shape[2], shape[3], shape[1]];
    const a = tf.tensor4d(nchwToNhwcF32(io.readSync('input.a') as Float32Array, shape), nhwc);
    const b = tf.tensor4d(nchwToNhwcF32(io.readSync('input.b') as Float32Array, shape), nhwc);
    const r = model.distance(a, b);
    const out: ParityOutput[] = [];
    for (const [name, t] of [['lpips', r.distance], ['per_layer', r.perLayer]] as const) {
      const { maxAbs, rel } = errorStats((await t.data()) as Float32Array, io.readSync(`output.${name}`) as Float32Array);
      out.push({ name, maxAbs, rel, tol: 1e-4, pass: rel <= 1e-4, refKey: `output.${name}` });
    }
    tf.dispose([a, b, r.distance, r.perLayer]);
    return out;
  } finally {
    model.dispose();
  }
}

export const lpipsHandler: ParityHandler = {
  name: 'lpips_vgg',
  detect: (f: FixtureFiles) => !!linFile(f) && !!vggFile(f) && !!f.ioKeys?.includes('output.lpips'),
  run: (f: FixtureFiles) => runLpipsFixture(f.dir, vggFile(f), linFile(f)),
};

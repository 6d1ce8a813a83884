// Parity of @fae/diffusion's LightningDiT against hustvl/LightningDiT `models/lightningdit.py` outputs.
// Recognised by content: config.json "class": "LightningDiT", model.safetensors, and io.safetensors with
// input.x / input.t / input.y and output.out. x and out are NCHW (PyTorch); our model is NHWC, so x is
// transposed in and the output back. t is in LightningDiT's convention (0 = noise), the model's own.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { parseSafetensors, readFloat32 } from '@fae/core';
import { lightningDiTFromStore } from '@fae/diffusion';
import { errorStats } from '../fixture-files.js';
import type { FixtureFiles, ParityHandler, ParityOutput } from '../types.js';

const TOL = 1e-4;

/** Runs one fixture directory on the active backend; leaves no tensors behind. */
export async function runLightningDiTParity(dir: string): Promise<ParityOutput[]> {
  const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  const weights = parseSafetensors(await readFile(join(dir, 'model.safetensors')), join(dir, 'model.safetensors'));
  const io = parseSafetensors(await readFile(join(dir, 'io.safetensors')), join(dir, 'io.safetensors'));
  const { model } = await lightningDiTFromStore(config, weights);
  try {
    const xInfo = io.info('input.x')!;
    const [x, t, y] = [
      tf.tensor(await readFloat32(io, 'input.x'), xInfo.shape, 'float32'),
      tf.tensor1d(await readFloat32(io, 'input.t'), 'float32'),
      tf.tensor1d(Int32Array.from(await readFloat32(io, 'input.y')), 'int32'),
    ];
    const out = tf.tidy(() => tf.transpose(model.forward(tf.transpose(x, [0, 2, 3, 1]), t, y), [0, 3, 1, 2])); // NCHW
    const actual = await out.data();
    tf.dispose([x, t, y, out]);
    const expected = await readFloat32(io, 'output.out');
    const outInfo = io.info('output.out')!;
    if (out.shape.join() !== outInfo.shape.join()) {
      return [{ name: 'out', maxAbs: Infinity, rel: Infinity, tol: TOL, pass: false, refKey: 'output.out', note: `shape [${out.shape}] vs reference [${outInfo.shape}]` }];
    }
    const { maxAbs, rel } = errorStats(actual, expected);
    return [{ name: 'out', maxAbs, rel, tol: TOL, pass: rel <= TOL, refKey: 'output.out' }];
  } finally {
    model.dispose();
  }
}

export const lightningDiTHandler: ParityHandler = {
  name: 'lightningdit',
  detect(f: FixtureFiles): boolean {
    const keys = f.ioKeys ?? [];
    return f.config?.class === 'LightningDiT' && f.files.includes('model.safetensors')
      && ['input.x', 'input.t', 'input.y', 'output.out'].every((k) => keys.includes(k));
  },
  run(f: FixtureFiles): Promise<ParityOutput[]> {
    return runLightningDiTParity(f.dir);
  },
};

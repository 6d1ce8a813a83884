// Parity of @fae/encoders' DINOv2 (and DINOv2 with registers) against transformers' Dinov2Model /
// Dinov2WithRegistersModel outputs. Recognised by content: config.json model_type dinov2 or
// dinov2_with_registers, model.safetensors, io.safetensors with input.pixel_values (NCHW, already
// normalised) and output.last_hidden_state / pooler_output / hidden_states_N. Our models are NHWC at
// their boundary, so pixels are transposed in; token outputs [B, T, D] compare directly.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { parseSafetensors, readFloat32, type TensorStore } from '@fae/core';
import { createBackbone, modelTypeEntry } from '@fae/encoders';
import { errorStats } from '../fixture-files.js';
import type { FixtureFiles, ParityHandler, ParityOutput } from '../types.js';

const TOL = 1e-4;

/** max|a-b| and max|a-b| / max|b| against the reference b (the io key `refKey`); any NaN fails (errorStats). */
export function compareOutput(name: string, actual: ArrayLike<number>, expected: ArrayLike<number>, shape: readonly number[], refShape: readonly number[], refKey: string, tol = TOL): ParityOutput {
  if (shape.join() !== refShape.join()) return { name, maxAbs: Infinity, rel: Infinity, tol, pass: false, refKey, note: `shape [${shape}] vs reference [${refShape}]` };
  const { maxAbs, rel } = errorStats(actual, expected);
  return { name, maxAbs, rel, tol, pass: rel <= tol, refKey };
}

/**
 * Runs a transformers vision-model fixture (DINOv2 or SigLIP) on the active backend: builds the
 * model from config.json, loads model.safetensors strictly, feeds input.pixel_values and compares
 * every output.* tensor it knows (last_hidden_state, pooler_output, hidden_states_N). No tensors leak.
 */
export async function runVisionModelParity(dir: string): Promise<ParityOutput[]> {
  const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  const weights = parseSafetensors(await readFile(join(dir, 'model.safetensors')), join(dir, 'model.safetensors'));
  const io: TensorStore = parseSafetensors(await readFile(join(dir, 'io.safetensors')), join(dir, 'io.safetensors'));
  const model = createBackbone(config, join(dir, 'config.json'));
  try {
    await model.loadStateDict(weights, { strict: true, prefix: modelTypeEntry(config.model_type, dir).weightsPrefix(weights.keys()) });
    const pxInfo = io.info('input.pixel_values')!;
    const nchw = tf.tensor(await readFloat32(io, 'input.pixel_values'), pxInfo.shape, 'float32');
    const out = tf.tidy(() => {
      const o = model.run(tf.transpose(nchw, [0, 2, 3, 1]), { outputHiddenStates: true }); // NHWC in
      return { last: o.lastHiddenState, pooled: o.poolerOutput, hidden: o.hiddenStates } as unknown as tf.TensorContainerObject;
    }) as unknown as { last: tf.Tensor; pooled: tf.Tensor | null; hidden: tf.Tensor[] };
    const results: ParityOutput[] = [];
    try {
      for (const key of io.keys().filter((k) => k.startsWith('output.')).sort()) {
        const name = key.slice('output.'.length);
        const ref = await readFloat32(io, key);
        const refShape = io.info(key)!.shape;
        let t: tf.Tensor | null = null;
        if (name === 'last_hidden_state') t = out.last;
        else if (name === 'pooler_output') t = out.pooled;
        else if (/^hidden_states_\d+$/.test(name)) t = out.hidden[Number(name.split('_')[2])] ?? null;
        if (!t) {
          results.push({ name, maxAbs: Infinity, rel: Infinity, tol: TOL, pass: false, refKey: key, note: 'no such output in our model' });
          continue;
        }
        results.push(compareOutput(name, await t.data(), ref, t.shape, refShape, key));
      }
    } finally {
      tf.dispose([nchw, out.last, ...(out.pooled ? [out.pooled] : []), ...out.hidden]);
    }
    return results;
  } finally {
    model.dispose();
  }
}

export const dinov2Handler: ParityHandler = {
  name: 'dinov2',
  detect: (f: FixtureFiles) =>
    (f.config?.model_type === 'dinov2' || f.config?.model_type === 'dinov2_with_registers') &&
    f.files.includes('model.safetensors') && !!f.ioKeys?.includes('input.pixel_values'),
  run: (f: FixtureFiles) => runVisionModelParity(f.dir),
};

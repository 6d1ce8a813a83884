// Parity of @fae/flow's TarFlow against apple/ml-tarflow `transformer_flow.Model` outputs.
// Recognised by content: config.json "class": "TarFlow" with model.safetensors and io.safetensors
// holding input.x / input.noise. Inputs are NCHW (PyTorch); our model is NHWC at its boundary, so x is
// transposed in and samples are transposed back for comparison. z and block outputs are token
// sequences [B, T, D] in upstream's patch layout, compared directly.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { parseSafetensors, readFloat32, type TensorStore } from '@fae/core';
import { TarFlow, configFromUpstream, type ReverseOptions } from '@fae/flow';
import type { FixtureFiles, ParityHandler, ParityOutput } from '../types.js';

/** The sampling settings of the fixture's `output.sample_*` tensors (meta.json: guidance 0, 1.5, 1.5 annealed with attention temperature 0.9). */
export const TARFLOW_SAMPLE_SETTINGS: Record<string, ReverseOptions> = {
  'output.sample_g0': { guidance: 0 },
  'output.sample_g1.5': { guidance: 1.5 },
  'output.sample_g1.5_annealed_t0.9': { guidance: 1.5, attnTemp: 0.9, annealedGuidance: true },
};

async function tensorOf(store: TensorStore, key: string, dtype: 'float32' | 'int32' = 'float32'): Promise<tf.Tensor> {
  const info = store.info(key);
  if (!info) throw new Error(`${store.source}: no tensor '${key}'`);
  const data = await readFloat32(store, key);
  return dtype === 'int32' ? tf.tensor(Int32Array.from(data), info.shape, 'int32') : tf.tensor(data, info.shape, 'float32');
}

/**
 * Elementwise tolerance |a - b| <= DIVERGED_TOL * max(1, |b|) for the finite values of a sample whose
 * reference overflowed (measured on tarflow_0's guidance-1.5 sample: 4e-4 to 1.2e-3 on cpu, wasm and
 * webgpu, while its non-diverged sample agrees to ~3e-6).
 */
export const DIVERGED_TOL = 1e-2;

/**
 * Compares in the fixtures' convention: max|a-b| / max|b| <= tol, per batch. Strong guidance on
 * random weights can make upstream's own sampling overflow (exp of a growing log-scale): a sample
 * whose reference holds Inf/NaN is a diverging trajectory that amplifies float32 rounding ~1e4-fold.
 * For such a sample ours must be non-finite of the same kind at exactly the same positions, and its
 * finite values must agree elementwise to DIVERGED_TOL (relative); the other samples are judged at
 * `tol` as usual. `rel` reports the finite samples (or the diverged ones' worst elementwise error
 * when every sample diverged), and the note says what was found.
 */
export function compareWithNonFinite(name: string, actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-4, batch = 1): ParityOutput {
  if (actual.length !== expected.length) return { name, maxAbs: Infinity, rel: Infinity, tol, pass: false, note: `size ${actual.length} vs reference ${expected.length}` };
  const per = expected.length / batch;
  let maxAbs = 0;
  let maxRef = 0;
  let nonFinite = 0;
  let kindMismatch = 0;
  let diverged = 0;
  let divergedWorst = 0;
  for (let b = 0; b < batch; b++) {
    let rowNonFinite = false;
    for (let i = b * per; i < (b + 1) * per; i++) if (!Number.isFinite(expected[i])) rowNonFinite = true;
    if (rowNonFinite) diverged++;
    for (let i = b * per; i < (b + 1) * per; i++) {
      const e = expected[i];
      const a = actual[i];
      if (!Number.isFinite(e)) {
        nonFinite++;
        if (!(Number.isNaN(e) ? Number.isNaN(a) : a === e)) kindMismatch++;
        continue;
      }
      const d = Math.abs(a - e);
      if (rowNonFinite) {
        const local = Number.isNaN(d) ? Infinity : d / Math.max(1, Math.abs(e));
        divergedWorst = Math.max(divergedWorst, local);
        continue;
      }
      if (!(d <= maxAbs)) maxAbs = Number.isNaN(d) ? Infinity : d;
      maxRef = Math.max(maxRef, Math.abs(e));
    }
  }
  const finiteRows = batch - diverged;
  const rel = finiteRows ? (maxRef === 0 ? maxAbs : maxAbs / maxRef) : divergedWorst;
  const pass = (finiteRows === 0 || rel <= tol) && kindMismatch === 0 && divergedWorst <= DIVERGED_TOL;
  const note = diverged
    ? `${diverged} of ${batch} reference samples overflowed (${nonFinite} Inf/NaN values, ${kindMismatch} not reproduced); their finite values agree to ${divergedWorst.toExponential(2)} elementwise (tolerance ${DIVERGED_TOL})`
    : undefined;
  return { name, maxAbs, rel, tol, pass, ...(note ? { note } : {}) };
}

/** Runs the fixture in `dir` on the active backend. Leaves no tensors behind. */
export async function runTarflowParity(dir: string): Promise<ParityOutput[]> {
  const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  const weights = parseSafetensors(await readFile(join(dir, 'model.safetensors')), join(dir, 'model.safetensors'));
  const io = parseSafetensors(await readFile(join(dir, 'io.safetensors')), join(dir, 'io.safetensors'));
  const model = new TarFlow(configFromUpstream(config, join(dir, 'config.json')));
  const inputs: tf.Tensor[] = [];
  const results: ParityOutput[] = [];
  const check = async (name: string, ours: tf.Tensor) => {
    const ref = await readFloat32(io, name);
    results.push({ ...compareWithNonFinite(name.replace(/^output\./, ''), (await ours.data()) as Float32Array, ref, 1e-4, ours.shape[0]), refKey: name });
    ours.dispose();
  };
  try {
    await model.loadStateDict(weights);
    const xNchw = await tensorOf(io, 'input.x');
    const y = await tensorOf(io, 'input.y', 'int32');
    const noise = await tensorOf(io, 'input.noise');
    inputs.push(xNchw, y, noise);
    const x = tf.transpose(xNchw, [0, 2, 3, 1]); // [B, H, W, C]
    inputs.push(x);
    const { z, outputs, logdet } = model.forward(x, y);
    await check('output.z', z);
    await check('output.block0', outputs[0]);
    tf.dispose(outputs.slice(1));
    await check('output.logdets', logdet);
    for (const [key, opts] of Object.entries(TARFLOW_SAMPLE_SETTINGS)) {
      if (!io.info(key)) continue;
      const sample = model.reverse(noise, y, opts); // [B, H, W, C]
      const nchw = tf.transpose(sample, [0, 3, 1, 2]);
      sample.dispose();
      await check(key, nchw);
    }
  } finally {
    tf.dispose(inputs);
    model.dispose();
  }
  return results;
}

export const tarflowHandler: ParityHandler = {
  name: 'tarflow',
  detect(f: FixtureFiles): boolean {
    return f.config?.class === 'TarFlow' && f.files.includes('model.safetensors') && !!f.ioKeys?.includes('input.noise') && !!f.ioKeys?.includes('input.x');
  },
  run(f: FixtureFiles): Promise<ParityOutput[]> {
    return runTarflowParity(f.dir);
  },
};

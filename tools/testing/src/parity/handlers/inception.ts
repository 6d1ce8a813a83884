// Parity of @fae/eval's FidInceptionV3 against torch-fidelity's FeatureExtractorInceptionV3
// (fixture eval/inception_fid). Recognised by content: weights.json (procedural weights) and an
// io.safetensors with `input.images_<i>` and `output.<i>.<feature>`. Images are uint8 NCHW in the
// fixture; they are transposed to NHWC here in JS (tfjs-backend-webgpu 4.22 miscompiles int32 4-D
// transposes), then every torch-fidelity feature is compared at 1e-4 relative, and `spatial` (the sFID
// tap: Mixed_6d.branch1x1, first 7 channels, NHWC-flattened) where the fixture holds
// `output.<i>.spatial` (eval/inception_sfid, made by tools/testing/py/make_inception_sfid_fixture.py).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { parseSafetensors, type SafetensorsBytes } from '@fae/core';
import { FidInceptionV3, proceduralStore, type InceptionFeature } from '@fae/eval';
import { errorStats } from '../fixture-files.js';
import type { FixtureFiles, ParityHandler, ParityOutput } from '../types.js';

const FEATURES: InceptionFeature[] = ['64', '192', '768', '2048', 'logits_unbiased', 'logits'];

/** uint8 NCHW -> int32 NHWC values (JS-side). */
export function nchwToNhwc(data: ArrayLike<number>, shape: readonly number[]): Int32Array {
  const [B, C, H, W] = shape;
  const out = new Int32Array(B * H * W * C);
  for (let b = 0; b < B; b++)
    for (let c = 0; c < C; c++)
      for (let h = 0; h < H; h++)
        for (let w = 0; w < W; w++) out[((b * H + h) * W + w) * C + c] = data[((b * C + c) * H + h) * W + w];
  return out;
}

export interface InceptionFixtureOptions {
  /** Only these batch rows of the named inputs, e.g. {'input.images_0': [1]} (default: every row of every input). */
  rowsFor?: Record<string, number[]>;
  /**
   * A second safetensors file with `output.<i>.spatial` for the fixture's inputs (the sFID tap made by
   * tools/testing/py/make_inception_sfid_fixture.py: packages/eval/test/fixtures/inception-sfid); its
   * rows are compared like the fixture's own outputs.
   */
  spatialFile?: string;
}

/** Loads the fixture's procedural weights into a new FidInceptionV3. */
export async function loadInceptionFixtureModel(dir: string): Promise<FidInceptionV3> {
  const spec = JSON.parse(await readFile(join(dir, 'weights.json'), 'utf8'));
  const model = new FidInceptionV3();
  await model.loadWeights(proceduralStore(spec, join(dir, 'weights.json')));
  return model;
}

/** Runs the fixture; one output line per (input, feature). */
export async function runInceptionFixture(dir: string, opts: InceptionFixtureOptions = {}): Promise<ParityOutput[]> {
  const io: SafetensorsBytes = parseSafetensors(new Uint8Array(await readFile(join(dir, 'io.safetensors'))), join(dir, 'io.safetensors'));
  const spatial = opts.spatialFile ? parseSafetensors(new Uint8Array(await readFile(opts.spatialFile)), opts.spatialFile) : undefined;
  const refOf = (key: string) => (io.info(key) ? io : spatial?.info(key) ? spatial : undefined);
  const model = await loadInceptionFixtureModel(dir);
  const out: ParityOutput[] = [];
  try {
    const inputs = io.keys().filter((k) => /^input\.images_\d+$/.test(k)).sort();
    for (const key of inputs) {
      const idx = key.slice('input.images_'.length);
      const shape = io.info(key)!.shape; // [B, 3, H, W]
      const per = shape[1] * shape[2] * shape[3];
      const rows = (opts.rowsFor ? opts.rowsFor[key] ?? [] : [...Array(shape[0]).keys()]).filter((r) => r < shape[0]);
      if (!rows.length) continue;
      const all = io.readSync(key) as Uint8Array;
      const picked = new Uint8Array(rows.length * per);
      rows.forEach((r, i) => picked.set(all.subarray(r * per, (r + 1) * per), i * per));
      const images = tf.tensor4d(nchwToNhwc(picked, [rows.length, ...shape.slice(1)]), [rows.length, shape[2], shape[3], shape[1]], 'int32');
      const names: InceptionFeature[] = refOf(`output.${idx}.spatial`) ? [...FEATURES, 'spatial'] : FEATURES;
      const feats = model.features(images, names);
      images.dispose();
      for (const name of names) {
        const refKey = `output.${idx}.${name}`;
        const src = refOf(refKey)!;
        const ref = src.readSync(refKey) as Float32Array;
        const dim = src.info(refKey)!.shape[1];
        const refRows = new Float32Array(rows.length * dim);
        rows.forEach((r, i) => refRows.set(ref.subarray(r * dim, (r + 1) * dim), i * dim));
        const got = (await feats[name]!.data()) as Float32Array;
        const { maxAbs, rel } = got.length === refRows.length ? errorStats(got, refRows) : { maxAbs: Infinity, rel: Infinity };
        out.push({ name: `images_${idx}[${rows.join(',')}] ${name}`, maxAbs, rel, tol: 1e-4, pass: rel <= 1e-4, refKey });
      }
      tf.dispose(Object.values(feats));
    }
  } finally {
    model.dispose();
  }
  return out;
}

export const inceptionHandler: ParityHandler = {
  name: 'inception_fid',
  detect: (f: FixtureFiles) =>
    f.files.includes('weights.json') && !!f.ioKeys?.some((k) => /^input\.images_\d+$/.test(k)) && !!f.ioKeys?.some((k) => /^output\.\d+\.logits_unbiased$/.test(k)),
  run: (f: FixtureFiles) => runInceptionFixture(f.dir),
};

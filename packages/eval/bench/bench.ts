// `npm run bench` (in packages/eval): FID Inception forward throughput at batch 8 on a backend
// (procedural weights, random 256x256 images resized to 299 as in FID evaluation), the float64
// Frechet distance at 2048 dimensions, and the streaming covariance update at 2048 dimensions.
// Prints a table and one JSON line. Options: --backend cpu|wasm|webgpu (default wasm), --batch N
// (default 8), --iters N (default 3), --skip-inception, --skip-fid. webgpu on a CPU-only machine
// needs software Vulkan in the environment before start; the bench re-executes itself with it.
import { spawnSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@fae/core';
import { FidInceptionV3, FeatureStatistics, frechetDistanceDetails, proceduralSpecFor, proceduralStore } from '@fae/eval';
import { softwareVulkanEnv } from '../../../tools/testing/src/backends-env.js';

const args = process.argv.slice(2);
const opt = (name: string, d: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : d;
};
const backend = opt('--backend', 'wasm');
const batch = Number(opt('--batch', '8'));
const iters = Number(opt('--iters', '3'));

if (backend === 'webgpu' && !process.env.FAE_BENCH_CHILD) {
  const env = { ...process.env, ...softwareVulkanEnv(), FAE_BENCH_CHILD: '1' };
  const r = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit', env });
  process.exit(r.status ?? 1);
}

/** Diagonally dominant symmetric matrix (positive definite by Gershgorin), O(n^2) to build. */
function randomSpd(n: number, seed: number): Float64Array {
  let s = seed >>> 0;
  const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296) * 2 - 1;
  const m = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) m[i * n + j] = m[j * n + i] = rand() / n;
    m[i * n + i] = 1.5 + rand() * 0.5;
  }
  return m;
}

const results: Record<string, number | string> = { backend, batch };
const info = await initBackend(backend, { allowSoftwareWebGPU: true } as Parameters<typeof initBackend>[1]);
results.backend = info.backend;
if (info.adapter) results.adapter = info.adapter;
if (info.features.length) results.features = info.features.join(' ');

if (!args.includes('--skip-inception')) {
  const model = new FidInceptionV3();
  const shapes: Array<[string, number[]]> = [
    ...model.namedParameters().map(([k, p]) => [k, p.torchShape] as [string, number[]]),
    ...model.namedBuffers().filter(([k]) => !k.endsWith('num_batches_tracked')).map(([k, b]) => [k, b.torchShape] as [string, number[]]),
  ];
  await model.loadWeights(proceduralStore(proceduralSpecFor(shapes)));
  const images = tf.tidy(() => tf.cast(tf.mul(tf.randomUniform([batch, 256, 256, 3], 0, 1, 'float32', 7), 255), 'int32'));
  const run = async () => {
    const f = model.features(images, ['2048', 'spatial', 'logits_unbiased']);
    await f['2048']!.data();
    tf.dispose(Object.values(f));
  };
  let t = performance.now();
  await run(); // warm-up: shader compilation / first-touch allocation
  results.inception_warmup_s = (performance.now() - t) / 1000;
  t = performance.now();
  for (let i = 0; i < iters; i++) await run();
  const s = (performance.now() - t) / 1000;
  results.inception_images_per_s = (iters * batch) / s;
  results.inception_ms_per_batch = (s / iters) * 1000;
  images.dispose();
  model.dispose();
}

if (!args.includes('--skip-fid')) {
  const n = 2048;
  const a = { mu: new Float64Array(n).fill(0.1), sigma: randomSpd(n, 1) };
  const b = { mu: new Float64Array(n), sigma: randomSpd(n, 2) };
  const d = frechetDistanceDetails(a, b);
  results.fid_2048_ms = d.ms;
  results.fid_2048_method = d.method;
  const stats = new FeatureStatistics(n);
  const rows = 512;
  const feats = Float32Array.from({ length: rows * n }, (_, i) => Math.sin(i * 0.37));
  const t = performance.now();
  stats.add(feats, rows);
  stats.toGaussian();
  results.stats_2048_rows_per_s = rows / ((performance.now() - t) / 1000);
}

const table = Object.entries(results).map(([k, v]) => `${k.padEnd(28)} ${typeof v === 'number' ? v.toFixed(k.endsWith('_s') || k.includes('per_s') ? 2 : 1) : v}`);
console.log(table.join('\n'));
console.log(JSON.stringify(results));

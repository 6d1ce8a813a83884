// `npm run bench:gpu` (issue: speed on the GPU): tfjs on WebGPU for the workloads below, written
// as JSON + a markdown table. On the GPU machine the PyTorch script tools/bench/py/torch_bench.py
// times the same shapes in the same call (tools/bench/device/run-gpu.sh runs both).
//   node gpu-bench.mjs [--quick] [--out DIR]
import * as tf from '@tensorflow/tfjs-core';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { initBackend, installNodeWebGPU } from '@fae/core';
import { VitBlock, readOneElement, timeIt, vitBlockFlops, type Timing } from './workloads.js';

const quick = process.argv.includes('--quick');
const outIdx = process.argv.indexOf('--out');
const outDir = outIdx > 0 ? process.argv[outIdx + 1] : join(process.cwd(), 'bench-out');
const kernelsIdx = process.argv.indexOf('--kernels');
const kernels = kernelsIdx > 0 ? process.argv[kernelsIdx + 1] : 'fae';

/** GPU timing: median of 10 (after 2 warm-ups), waiting on one read-back element per run. */
function timeGpu(name: string, fn: () => tf.Tensor | tf.Tensor[], opts: { iters?: number; warmup?: number; flops?: number } = {}): Promise<Timing> {
  return timeIt(name, fn, { warmup: 2, iters: 10, ...opts, settle: readOneElement });
}

await installNodeWebGPU();
await import('@tensorflow/tfjs-backend-webgpu'); // bundled; registers the backend now that navigator.gpu exists
const info = await initBackend('webgpu', { webgpuKernels: 'tfjs' });
if (kernels === 'fae') {
  const { registerFaeWebGPUKernels } = await import('@fae/core');
  if (!registerFaeWebGPUKernels()) throw new Error('could not register FAE WebGPU kernels');
}
const results: Timing[] = [];
for (const n of quick ? [256, 512] : [1024, 2048, 4096]) {
  const a = tf.randomNormal([n, n], 0, 1, 'float32', 1);
  const b = tf.randomNormal([n, n], 0, 1, 'float32', 2);
  results.push(await timeGpu(`matmul ${n}^3`, () => tf.matMul(a, b), { flops: 2 * n ** 3 }));
  tf.dispose([a, b]);
}
const [B, T, D, H] = quick ? [2, 64, 192, 3] : [64, 256, 768, 12];
const block = new VitBlock(D, H);
const x = tf.randomNormal([B, T, D], 0, 1, 'float32', 3);
results.push(await timeGpu(`ViT-B block fwd ${B}x${T}x${D}`, () => block.forward(x), { flops: vitBlockFlops(B, T, D) }));
const vars = [...block.trainableVariables().values()];
results.push(await timeGpu('ViT-B block fwd+bwd', () => {
  const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(block.forward(x))) as tf.Scalar, vars);
  return [value, ...Object.values(grads)];
}, { flops: 3 * vitBlockFlops(B, T, D), iters: 5 }));
if (process.argv.includes('--profile')) {
  // Per-kernel GPU time of one fwd+bwd (timestamp queries), largest first.
  const prof = await tf.profile(() => {
    const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(block.forward(x))) as tf.Scalar, vars);
    return [value, ...Object.values(grads)] as unknown as tf.Tensor;
  });
  const rows = await Promise.all(prof.kernels.map(async (k) => ({ name: k.name, ms: Number(await k.kernelTimeMs) || 0, out: k.outputShapes.map((s) => `[${s}]`).join(','), ins: k.inputShapes.map((s) => `[${s}]`).join(',') })));
  const total = rows.reduce((a, r) => a + r.ms, 0);
  const byName = new Map<string, number>();
  for (const r of rows) byName.set(r.name, (byName.get(r.name) ?? 0) + r.ms);
  console.log(`profile fwd+bwd (${kernels} kernels): ${rows.length} kernels, ${total.toFixed(1)} ms GPU`);
  for (const [n, ms] of [...byName].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(`  ${n}: ${ms.toFixed(2)} ms`);
  for (const r of rows.sort((a, b) => b.ms - a.ms).slice(0, 12)) console.log(`  ${r.ms.toFixed(2)} ms ${r.name} ${r.ins} -> ${r.out}`);
}
tf.dispose(x);
block.dispose();

const { modelBenchmarks } = await import('./model-workloads.js');
for (const w of modelBenchmarks({ gpu: true, quick })) {
  try {
    results.push(await w());
  } catch (e) {
    results.push({ name: (e as { workload?: string }).workload ?? 'model workload', ms: NaN, note: `skipped: ${(e as Error).message}` });
  }
}

const report = { machine: { adapter: info.adapter, features: info.features, cpu: cpus()[0]?.model, node: process.version, kernels, date: new Date().toISOString() }, results };
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, `webgpu-${kernels}.json`), JSON.stringify(report, null, 2));
console.log(`\ntfjs-webgpu (${kernels} kernels) on ${info.adapter}`);
console.log('| workload | ms | GFLOP/s |\n| --- | --- | --- |');
for (const r of results) console.log(`| ${r.name} | ${Number.isNaN(r.ms) ? r.note : r.ms.toFixed(2)} | ${r.gflops ? r.gflops.toFixed(0) : ''} |`);
process.exit(0);

// `npm run bench:gpu` (issue #10: speed on the GPU): tfjs on WebGPU for the kernel-level workloads
// (matmul, a ViT-B block) and the whole-model workloads (model-workloads.ts), written as JSON + a
// markdown table. On the GPU machine the PyTorch script tools/bench/py/torch_bench.py times the same
// shapes in the same call (tools/bench/device/run-gpu.sh runs both); when its torch.json is in the
// output folder, a side-by-side table follows.
//   node gpu-bench.mjs [--quick] [--out DIR] [--kernels fae|tfjs] [--updates fused|ops] [--only NAME] [--profile] [--no-models]
// --updates ops: AdamW / EMA as tfjs ops instead of @fae/core's fused update kernels (before/after);
// --only NAME: just the model workloads whose name contains NAME (no kernel-level workloads).
// From the sources (software Vulkan where scripts/lavapipe.mjs installed it, re-executing itself
// with that environment):
//   node --import tsx --import ./tools/bench/src/use-sources.mjs tools/bench/src/gpu-bench.ts --quick
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend, installNodeWebGPU, registerFaeWebGPUKernels, unregisterFusedUpdateKernels } from '@fae/core';
import { restartWithSoftwareVulkan } from './script.js';
import { machineInfo } from './machine.js';
import { modelBenchmarks } from './model-workloads.js';
import { VitBlock, readOneElement, timeIt, vitBlockFlops, type Timing } from './workloads.js';

// Dawn finds lavapipe only through the environment the process starts with.
restartWithSoftwareVulkan();

const quick = process.argv.includes('--quick');
const outIdx = process.argv.indexOf('--out');
const outDir = outIdx > 0 ? process.argv[outIdx + 1] : join(process.cwd(), 'bench-out');
const kernelsIdx = process.argv.indexOf('--kernels');
const kernels = kernelsIdx > 0 ? process.argv[kernelsIdx + 1] : 'fae';
const updatesIdx = process.argv.indexOf('--updates');
const updates = updatesIdx > 0 ? process.argv[updatesIdx + 1] : 'fused';
const onlyIdx = process.argv.indexOf('--only');
const only = onlyIdx > 0 ? process.argv[onlyIdx + 1] : undefined;

/** GPU timing: median of 10 (after 2 warm-ups), waiting on one read-back element per run. */
function timeGpu(name: string, fn: () => tf.Tensor | tf.Tensor[], opts: { iters?: number; warmup?: number; flops?: number } = {}): Promise<Timing> {
  return timeIt(name, fn, { warmup: 2, iters: 10, ...opts, settle: readOneElement });
}

await installNodeWebGPU();
await import('@tensorflow/tfjs-backend-webgpu'); // bundled; registers the backend now that navigator.gpu exists
const info = await initBackend('webgpu', { webgpuKernels: 'tfjs' });
if (kernels === 'fae') {
  if (!registerFaeWebGPUKernels()) throw new Error('could not register FAE WebGPU kernels');
}
if (updates === 'ops') unregisterFusedUpdateKernels('webgpu');
const results: Timing[] = [];
// Kernel-level shapes (py/torch_bench.py: the same lists).
for (const n of only ? [] :  quick ? [256, 512] : [1024, 2048, 4096]) {
  const a = tf.randomNormal([n, n], 0, 1, 'float32', 1);
  const b = tf.randomNormal([n, n], 0, 1, 'float32', 2);
  results.push(await timeGpu(`matmul ${n}^3`, () => tf.matMul(a, b), { flops: 2 * n ** 3 }));
  tf.dispose([a, b]);
}
const [B, T, D, H] = quick ? [2, 64, 192, 3] : [64, 256, 768, 12];
const block = new VitBlock(D, H);
const x = tf.randomNormal([B, T, D], 0, 1, 'float32', 3);
const vars = [...block.trainableVariables().values()];
if (!only) {
  results.push(await timeGpu(`ViT-B block fwd ${B}x${T}x${D}`, () => block.forward(x), { flops: vitBlockFlops(B, T, D) }));
  results.push(await timeGpu('ViT-B block fwd+bwd', () => {
    const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(block.forward(x))) as tf.Scalar, vars);
    return [value, ...Object.values(grads)];
  }, { flops: 3 * vitBlockFlops(B, T, D), iters: 5 }));
}
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

if (!process.argv.includes('--no-models')) {
  for (const w of modelBenchmarks({ gpu: true, quick, only })) {
    try {
      const r = await w();
      console.error(`[bench] ${r.name}: ${r.ms.toFixed(2)} ms (${r.note})`);
      results.push(r);
    } catch (e) {
      results.push({ name: (e as { workload?: string }).workload ?? 'model workload', ms: NaN, note: `skipped: ${(e as Error).message}` });
      console.error(`[bench] ${results.at(-1)!.name} failed:`, e);
    }
  }
}

const machine = machineInfo(['@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-webgpu', 'webgpu']);
const report = { engine: 'tfjs', backend: info.backend, adapter: info.adapter, features: info.features, kernels, updates, only, quick, machine, results };
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, `webgpu-${kernels}${updates === 'ops' ? '-ops-updates' : ''}${only ? '-only' : ''}${quick ? '-quick' : ''}.json`), JSON.stringify(report, null, 2));

const num = (v: number | undefined, digits: number) => (v === undefined || Number.isNaN(v) ? '' : v.toFixed(digits));
const rate = (r: { rate?: number; unit?: string }) => (r.rate ? `${num(r.rate, r.rate < 10 ? 2 : 1)} ${r.unit}` : '');
console.log(`\ntfjs-webgpu (${kernels} kernels, ${updates} optimizer updates) on ${info.adapter}; ${machine.cpu}, ${machine.cores} cores; Node ${machine.node}, tfjs ${machine.versions['@tensorflow/tfjs-core']}, webgpu ${machine.versions.webgpu}; ${machine.date}`);
console.log('| workload | ms | rate | GFLOP/s |\n| --- | --- | --- | --- |');
for (const r of results) console.log(`| ${r.name} | ${Number.isNaN(r.ms) ? r.note : num(r.ms, 2)} | ${rate(r)} | ${num(r.gflops, r.gflops !== undefined && r.gflops < 10 ? 2 : 0)} |`);

// Side by side with PyTorch when run-gpu.sh wrote its JSON into the same folder (same shapes, same card).
const torchFile = join(outDir, 'torch.json');
if (existsSync(torchFile)) {
  const torch = JSON.parse(readFileSync(torchFile, 'utf8')) as { device: string; torch: string; date: string; quick?: boolean; modes: Record<string, Array<{ name: string; ms: number }>> };
  if (!!torch.quick === quick) {
    const ms = (mode: string, name: string) => torch.modes[mode]?.find((t) => t.name === name)?.ms;
    console.log(`\nside by side: PyTorch ${torch.torch} on ${torch.device} (${torch.date}); GFLOP/s from the same FLOP count (model-flops.ts)`);
    console.log('| workload | tfjs ms | PyTorch fp32 ms | TF32 ms | bf16 ms | tfjs / fp32 | tfjs GFLOP/s | fp32 GFLOP/s |\n| --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const r of results) {
      const f = ms('fp32', r.name);
      const ratio = f && !Number.isNaN(r.ms) ? `${(r.ms / f).toFixed(2)}x` : '';
      const fg = f && r.flops ? num(r.flops / f / 1e6, 0) : '';
      console.log(`| ${r.name} | ${num(r.ms, 2)} | ${num(f, 2)} | ${num(ms('tf32', r.name), 2)} | ${num(ms('bf16', r.name), 2)} | ${ratio} | ${num(r.gflops, 0)} | ${fg} |`);
    }
  }
}
process.exit(0);

// `npm run bench:gpu` (issue #10: speed on the GPU): tfjs on WebGPU for the kernel-level workloads
// (matmul, a ViT-B block) and the whole-model workloads (model-workloads.ts), written as JSON + a
// markdown table. On the GPU machine the PyTorch script tools/bench/py/torch_bench.py times the same
// shapes in the same call (tools/bench/device/run-gpu.sh runs both); when its torch.json is in the
// output folder, a side-by-side table follows.
//   node gpu-bench.mjs [--quick] [--out DIR] [--kernels fae|tfjs] [--updates fused|ops] [--only NAME] [--profile] [--no-models]
//                      [--matmul vec4|scalar] [--tile-k 8|16] [--sweep] [--split-reduce off] [--tfjs-flag NAME=VALUE]...
//                      [--uploads tfjs] [--dawn-option OPTION]... [--skinny off]
// --cpu-profile: V8 CPU profiles of three warm calls per workload (cpuprof/ under --out; cpu-profile-summary.ts).
// --profile: per-kernel GPU time (timestamp queries, gpu-profile.ts) of one more call of every
// workload: kernel count, GPU ms, wall ms, largest kernel groups (table + `profile` in the JSON);
// --matmul / --tile-k: which FAE matmul kernel (matmul-select.ts; before/after comparisons);
// --sweep: the matmul kernels side by side on the 4096^3 and the models' projection shapes, with
// each one's largest difference from the scalar kernel's output (then exits).
// --updates ops: AdamW / EMA as tfjs ops instead of @fae/core's fused update kernels (before/after);
// --only NAME: just the model workloads whose name contains NAME (no kernel-level workloads);
// --skip NAME: leaves out the model workloads whose name contains NAME.
// From the sources (software Vulkan where scripts/lavapipe.mjs installed it, re-executing itself
// with that environment):
//   node --import tsx --import ./tools/bench/src/use-sources.mjs tools/bench/src/gpu-bench.ts --quick
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SPLIT_REDUCE_POLICY, configureFaeWebGPUKernels, initBackend, uninstallQueueUploads, installNodeWebGPU, registerFaeWebGPUKernels, unregisterFusedUpdateKernels } from '@fae/core';
import { restartWithSoftwareVulkan } from './script.js';
import { machineInfo } from './machine.js';
import { modelBenchmarks } from './model-workloads.js';
import { VitBlock, readOneElement, runSettled, timeIt, vitBlockFlops, type Timing } from './workloads.js';
import { PROFILE_HEADER, profileGpu, profileLine, type GpuProfile } from './gpu-profile.js';
import { recordCpuProfile } from './cpu-profile.js';

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
const skip = process.argv.indexOf('--skip') > 0 ? process.argv[process.argv.indexOf('--skip') + 1] : undefined;
const argOf = (name: string) => (process.argv.indexOf(name) > 0 ? process.argv[process.argv.indexOf(name) + 1] : undefined);
const matmul = (argOf('--matmul') ?? 'vec4') as 'vec4' | 'scalar'; // the library's default
const tileK = Number(argOf('--tile-k') ?? 16) as 8 | 16;
const profile = process.argv.includes('--profile');

/** GPU timing: median of 10 (after 2 warm-ups), waiting on one read-back element per run. */
function timeGpu(name: string, fn: () => tf.Tensor | tf.Tensor[], opts: { iters?: number; warmup?: number; flops?: number } = {}): Promise<Timing> {
  return timeIt(name, fn, { warmup: 2, iters: 10, ...opts, settle: readOneElement });
}

// Dawn quantizes timestamps by default (coarse per-kernel times): off for profiling.
// --dawn-option OPTION (repeatable): options for the webgpu package's create(), e.g. Dawn toggles
// 'enable-dawn-features=skip_validation,disable_robustness'
const dawnOptions = process.argv.flatMap((a, i) => (a === '--dawn-option' && process.argv[i + 1] ? [process.argv[i + 1]] : []));
await installNodeWebGPU({ dawnOptions: [...dawnOptions, ...(profile ? ['disable-dawn-features=timestamp_quantization'] : [])] });
await import('@tensorflow/tfjs-backend-webgpu'); // bundled; registers the backend now that navigator.gpu exists
const info = await initBackend('webgpu', { webgpuKernels: 'tfjs' });
if (kernels === 'fae') {
  if (!registerFaeWebGPUKernels()) throw new Error('could not register FAE WebGPU kernels');
}
if (updates === 'ops') unregisterFusedUpdateKernels('webgpu');
// --uploads tfjs: tfjs's own upload path (staging buffers) instead of FAE's queue.writeBuffer one (before/after)
const uploads = argOf('--uploads') ?? 'fae';
if (uploads === 'tfjs') uninstallQueueUploads(tf.backend() as any);
configureFaeWebGPUKernels({ matmul, vec4TileK: tileK });
// --skinny off: no skinny matmul (matmul-skinny.ts): tfjs's kernel for products of <= 32 rows (before/after)
const skinny = argOf('--skinny') !== 'off';
if (!skinny) configureFaeWebGPUKernels({ skinnyRows: 0 });
// --split-reduce off: tfjs's one-pass Sum/Mean everywhere (before/after for reduce-split.ts)
const splitReduce = argOf('--split-reduce') !== 'off';
if (!splitReduce) SPLIT_REDUCE_POLICY.minInner = Infinity;
// --tfjs-flag NAME=VALUE (repeatable): tfjs environment flags, e.g. WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE=64
// (how many dispatches tfjs-webgpu records before it submits; tfjs's default 15)
const tfjsFlags: Record<string, number | boolean> = {};
process.argv.forEach((a, i) => {
  if (a !== '--tfjs-flag') return;
  const [name, value] = (process.argv[i + 1] ?? '').split('=');
  const v = value === 'true' ? true : value === 'false' ? false : Number(value);
  if (!name || (typeof v === 'number' && !Number.isFinite(v))) throw new Error(`--tfjs-flag wants NAME=VALUE, got '${process.argv[i + 1]}'`);
  tf.env().set(name, v);
  tfjsFlags[name] = v;
});
type Row = Timing & { profile?: GpuProfile };

const cpuProfile = process.argv.includes('--cpu-profile');
const cpuProfileDir = cpuProfile ? join(outDir, `cpuprof-${kernels}${kernels === 'fae' ? `-${matmul}` : ''}`) : undefined;
const results: Row[] = [];
/** Times `fn`, then (--profile) profiles one more call, then (--cpu-profile) records the CPU of three more. */
async function timeAndProfile(name: string, fn: () => tf.Tensor | tf.Tensor[], opts: { iters?: number; flops?: number } = {}): Promise<Row> {
  const r: Row = await timeGpu(name, fn, opts);
  if (cpuProfile) await recordCpuProfile(cpuProfileDir!, name, () => runSettled(fn, readOneElement));
  if (profile) r.profile = await profileGpu(() => runSettled(fn, readOneElement));
  return r;
}

if (process.argv.includes('--sweep')) {
  // The FAE matmul kernels on the shapes that dominate the models (forward projections of ViT-B at
  // 64x256 tokens, LightningDiT-XL at 128x256, and a B-transposed backward product), vs the scalar one.
  // [M, K, N, B transposed, A transposed]; the A-transposed one is a weight gradient (x^T dy).
  const shapes: Array<[number, number, number, boolean, boolean]> = quick
    ? [[256, 256, 256, false, false], [512, 192, 768, true, false], [192, 512, 768, false, true]]
    : [[4096, 4096, 4096, false, false], [16384, 768, 3072, false, false], [16384, 3072, 768, false, false], [32768, 1152, 3456, false, false], [16384, 3072, 768, true, false], [768, 16384, 3072, false, true]];
  const variants: Array<{ label: string; matmul: 'vec4' | 'scalar'; vec4TileK: 8 | 16; tfjs?: boolean }> = [
    { label: 'scalar 128x128 BK16', matmul: 'scalar', vec4TileK: 16 },
    { label: 'vec4 double-buffered BK8', matmul: 'vec4', vec4TileK: 8 },
    { label: 'vec4 double-buffered BK16', matmul: 'vec4', vec4TileK: 16 },
    { label: "tfjs's own kernel", matmul: 'vec4', vec4TileK: 16, tfjs: true },
  ];
  const sweep: Array<Record<string, string | number>> = [];
  for (const [M, K, N, tB, tA] of shapes) {
    const a = tf.randomNormal(tA ? [K, M] : [M, K], 0, 1, 'float32', 5);
    const b = tf.randomNormal(tB ? [N, K] : [K, N], 0, 1, 'float32', 6);
    let ref: Float32Array | null = null;
    for (const v of variants) {
      configureFaeWebGPUKernels({ matmul: v.matmul, vec4TileK: v.vec4TileK, minWork: v.tfjs ? Number.MAX_SAFE_INTEGER : 0, minTiles: 0, transposeA: true });
      const name = `${M}x${K} @ ${K}x${N}${tB ? ' (B transposed)' : ''}${tA ? ' (A transposed)' : ''}`;
      const t = await timeGpu(name, () => tf.matMul(a, b, tA, tB), { flops: 2 * M * N * K });
      const y = tf.matMul(a, b, tA, tB);
      const vals = (await y.data()) as Float32Array;
      y.dispose();
      let maxAbs = 0;
      let maxDiff = 0;
      if (!ref) ref = vals;
      for (let i = 0; i < vals.length; i++) {
        maxAbs = Math.max(maxAbs, Math.abs(ref[i]));
        maxDiff = Math.max(maxDiff, Math.abs(vals[i] - ref[i]));
      }
      sweep.push({ shape: name, kernel: v.label, ms: Number(t.ms.toFixed(3)), 'TFLOP/s': Number(((t.gflops ?? 0) / 1000).toFixed(1)), 'max |diff| / max |ref|': (maxDiff / maxAbs).toExponential(1) });
    }
    tf.dispose([a, b]);
  }
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, `matmul-sweep${quick ? '-quick' : ''}.json`), JSON.stringify({ adapter: info.adapter, date: new Date().toISOString(), sweep }, null, 2));
  console.log(`\nFAE matmul kernels on ${info.adapter}`);
  console.log('| shape | kernel | ms | TFLOP/s | max abs diff / max abs (vs scalar) |\n| --- | --- | --- | --- | --- |');
  for (const r of sweep) console.log(`| ${Object.values(r).join(' | ')} |`);
  process.exit(0);
}
const machine = machineInfo(['@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-webgpu', 'webgpu']);
const flagTag = Object.entries(tfjsFlags).map(([k, v]) => `-${k.toLowerCase()}-${v}`).join('') + (uploads === 'tfjs' ? '-tfjs-uploads' : '') + (skinny ? '' : '-no-skinny') + dawnOptions.map((o) => `-${o.replace(/[^a-z0-9]+/gi, '_')}`).join('');
const variant = (kernels === 'fae' ? `-${matmul}${matmul === 'vec4' ? tileK : ''}${splitReduce ? '' : '-one-pass-reduce'}` : '') + flagTag;
const reportFile = join(outDir, `webgpu-${kernels}${variant}${updates === 'ops' ? '-ops-updates' : ''}${only ? '-only' : ''}${profile ? '-profile' : ''}${quick ? '-quick' : ''}.json`);
/** Writes the JSON so far (after every workload: a run cut short keeps what it measured). */
function writeReport(): void {
  const report = { engine: 'tfjs', backend: info.backend, adapter: info.adapter, features: info.features, kernels, matmul: kernels === 'fae' ? { matmul, tileK } : undefined, splitReduce: kernels === 'fae' ? splitReduce : undefined, skinny, tfjsFlags, uploads, dawnOptions, updates, only, skip, quick, profile, machine, results };
  mkdirSync(outDir, { recursive: true });
  writeFileSync(`${reportFile}.tmp`, JSON.stringify(report, null, 2));
  renameSync(`${reportFile}.tmp`, reportFile);
}
writeReport();

// Kernel-level shapes (py/torch_bench.py: the same lists).
for (const n of only ? [] :  quick ? [256, 512] : [1024, 2048, 4096]) {
  const a = tf.randomNormal([n, n], 0, 1, 'float32', 1);
  const b = tf.randomNormal([n, n], 0, 1, 'float32', 2);
  results.push(await timeAndProfile(`matmul ${n}^3`, () => tf.matMul(a, b), { flops: 2 * n ** 3 }));
  writeReport();
  tf.dispose([a, b]);
}
const [B, T, D, H] = quick ? [2, 64, 192, 3] : [64, 256, 768, 12];
const block = new VitBlock(D, H);
const x = tf.randomNormal([B, T, D], 0, 1, 'float32', 3);
const vars = [...block.trainableVariables().values()];
if (!only) {
  results.push(await timeAndProfile(`ViT-B block fwd ${B}x${T}x${D}`, () => block.forward(x), { flops: vitBlockFlops(B, T, D) }));
  results.push(await timeAndProfile('ViT-B block fwd+bwd', () => {
    const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(block.forward(x))) as tf.Scalar, vars);
    return [value, ...Object.values(grads)];
  }, { flops: 3 * vitBlockFlops(B, T, D), iters: 5 }));
}
tf.dispose(x);
block.dispose();
writeReport();

if (!process.argv.includes('--no-models')) {
  for (const w of modelBenchmarks({ gpu: true, quick, only, skip, profile, cpuProfileDir })) {
    try {
      const r = await w();
      console.error(`[bench] ${r.name}: ${r.ms.toFixed(2)} ms (${r.note})${r.profile ? `; profile: ${r.profile.kernels} kernels, ${r.profile.gpuMs.toFixed(1)} ms GPU` : ''}`);
      results.push(r);
      writeReport();
    } catch (e) {
      results.push({ name: (e as { workload?: string }).workload ?? 'model workload', ms: NaN, note: `skipped: ${(e as Error).message}` });
      console.error(`[bench] ${results.at(-1)!.name} failed:`, e);
    }
  }
}

const num = (v: number | undefined, digits: number) => (v === undefined || Number.isNaN(v) ? '' : v.toFixed(digits));
const rate = (r: { rate?: number; unit?: string }) => (r.rate ? `${num(r.rate, r.rate < 10 ? 2 : 1)} ${r.unit}` : '');
console.log(`\ntfjs-webgpu (${kernels} kernels${kernels === 'fae' ? `, ${matmul} matmul${matmul === 'vec4' ? ` BK${tileK}` : ''}` : ''}, ${updates} optimizer updates${kernels === 'fae' && !splitReduce ? ', one-pass reduce' : ''}${flagTag ? `, flags ${JSON.stringify(tfjsFlags)}` : ''}) on ${info.adapter}; ${machine.cpu}, ${machine.cores} cores; Node ${machine.node}, tfjs ${machine.versions['@tensorflow/tfjs-core']}, webgpu ${machine.versions.webgpu}; ${machine.date}`);
console.log('| workload | ms | rate | GFLOP/s |\n| --- | --- | --- | --- |');
for (const r of results) console.log(`| ${r.name} | ${Number.isNaN(r.ms) ? r.note : num(r.ms, 2)} | ${rate(r)} | ${num(r.gflops, r.gflops !== undefined && r.gflops < 10 ? 2 : 0)} |`);

if (profile) {
  console.log(`\nper-kernel GPU profile (timestamp queries, one call after the timed runs); ${kernels} kernels`);
  console.log(PROFILE_HEADER);
  for (const r of results) if (r.profile) console.log(profileLine(r.name, r.profile, r.ms));
  for (const r of results) {
    if (!r.profile) continue;
    console.log(`top kernels, ${r.name}: ${r.profile.top.slice(0, 5).map((t) => `${t.name} ${t.out} ${t.ms.toFixed(2)}`).join('; ')}`);
  }
}

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

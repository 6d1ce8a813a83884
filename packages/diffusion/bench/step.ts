// `npm run bench`: one LightningDiT sampling step (a forward at batch B, and a guided step, which is
// one forward at batch 2B) for presets on one backend. Prints a table and writes bench/out/lightningdit-step.json.
//   npm run bench -- --backend wasm --batch 4 --presets LightningDiT-S/2,LightningDiT-B/2 --repeats 3
// Presets are on the FAE latent (16x16x32); LightningDiT-XL/1 (675M parameters, 256 tokens) needs ~3 GB
// for its weights and minutes per step on a CPU backend: pass it explicitly.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, Rng } from '@fae/core';
import { PRESETS, LightningDiT, guidedVelocity } from '@fae/diffusion';
// The benchmarks' one timing loop. Not a declared devDependency: @fae/bench depends on this package
// (its model workloads), and turbo refuses a dependency cycle; npm workspaces link it all the same.
import { timeIt } from '@fae/bench/timing';
import { restartWithSoftwareVulkan, scriptArg as arg, writeResultTable } from '@fae/bench/script';

const backend = arg('backend', process.env.FAE_BACKEND ?? 'wasm');
const batch = Number(arg('batch', '4'));
const repeats = Number(arg('repeats', '3'));
const presets = arg('presets', 'LightningDiT-S/2,LightningDiT-B/2').split(',');

// WebGPU on a CPU-only machine needs software Vulkan in the environment before the process starts.
if (backend === 'webgpu') restartWithSoftwareVulkan();

const info = await initBackend(backend);
const rows: Array<Record<string, string | number>> = [];
for (const name of presets) {
  const preset = PRESETS[name];
  if (!preset) throw new Error(`unknown preset '${name}' (known: ${Object.keys(PRESETS).join(', ')})`);
  const tBuild = performance.now();
  const model = new LightningDiT(preset.config, { seed: 0 });
  const buildMs = performance.now() - tBuild;
  const rng = new Rng(1);
  const x = rng.normal([batch, ...model.latentShape]);
  const t = tf.fill([batch], 0.5);
  const labels = tf.tensor1d(Array.from({ length: batch }, (_, i) => i % preset.config.numClasses), 'int32');
  const guided = guidedVelocity(model, labels, { scale: 2 });
  // median of `repeats` runs, each read back, after one warm-up run (shader compilation, kernel caches)
  const fwdMs = (await timeIt('forward', () => model.forward(x, t, labels), { warmup: 1, iters: repeats })).ms;
  const guidedMs = (await timeIt('guided step', () => guided(x, 0.5, 0.5), { warmup: 1, iters: repeats })).ms;
  const tokens = (preset.config.inputSize / preset.config.patchSize) ** 2;
  rows.push({
    preset: name, params_M: +(preset.parameters / 1e6).toFixed(2), tokens, batch,
    forward_ms: +fwdMs.toFixed(1), guided_step_ms: +guidedMs.toFixed(1), ms_per_sample: +(fwdMs / batch).toFixed(1),
    est_250_step_s: +((250 * fwdMs) / 1000).toFixed(1), build_ms: +buildMs.toFixed(0),
  });
  tf.dispose([x, t, labels]);
  model.dispose();
}

const result = { benchmark: 'lightningdit-step', backend: info.backend, adapter: info.adapter, features: info.features, repeats, date: new Date().toISOString(), rows };
writeResultTable(join(dirname(fileURLToPath(import.meta.url)), 'out'), 'lightningdit-step', result, rows, `backend ${info.backend} (${info.adapter ?? ''} ${info.features.join(' ')}), median of ${repeats}`);
// wasm's worker threads would keep Node alive.
process.exit(0);

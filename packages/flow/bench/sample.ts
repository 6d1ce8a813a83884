// `npm run bench`: TarFlow sampling (a full reverse pass, token by token with KV caches) and the
// exact-likelihood forward for small presets on one backend. Prints a table and writes
// bench/out/tarflow-sample.json.
//   npm run bench -- --backend wasm --batch 4 --presets tarflow-tiny,tarflow-mnist --repeats 2
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@fae/core';
import { PRESETS, TarFlow, sample } from '@fae/flow';
// The benchmarks' one timing loop. Not a declared devDependency: @fae/bench depends on this package
// (its model workloads), and turbo refuses a dependency cycle; npm workspaces link it all the same.
import { timeIt } from '@fae/bench/timing';
import { restartWithSoftwareVulkan, scriptArg as arg, writeResultTable } from '@fae/bench/script';

const backend = arg('backend', process.env.FAE_BACKEND ?? 'wasm');
const batch = Number(arg('batch', '4'));
const repeats = Number(arg('repeats', '2'));
const presets = arg('presets', 'tarflow-tiny,tarflow-mnist').split(',');

// WebGPU on a CPU-only machine needs software Vulkan in the environment before the process starts.
if (backend === 'webgpu') restartWithSoftwareVulkan();

const info = await initBackend(backend);
const rows: Array<Record<string, string | number>> = [];
for (const name of presets) {
  const preset = PRESETS[name];
  if (!preset) throw new Error(`unknown preset '${name}' (known: ${Object.keys(PRESETS).join(', ')})`);
  const model = new TarFlow({ ...preset.config, seed: 0 });
  const labels = preset.config.numClasses ? Array.from({ length: batch }, (_, i) => i % preset.config.numClasses!) : undefined;
  const x = tf.randomNormal([batch, ...model.latentShape], 0, 1, 'float32', 1);
  const runSample = (guidance: number) => sample({ model, labels, batchSize: batch, seed: 1, guidance, yieldEveryMs: 0 });
  // medians of `repeats` runs, each read back; one warm-up run (shader compilation, kernel caches)
  // before the first sampling and the likelihood forward
  const sampleMs = (await timeIt('sample', () => runSample(0), { warmup: 1, iters: repeats })).ms;
  const guidedMs = preset.config.numClasses ? (await timeIt('guided sample', () => runSample(1.5), { warmup: 0, iters: repeats })).ms : NaN;
  const nllMs = (await timeIt('nll', () => model.nll(x, labels), { warmup: 1, iters: repeats })).ms;
  const tokenSteps = (model.numPatches - 1) * model.config.numBlocks;
  rows.push({
    preset: name, params_M: +(preset.parameters / 1e6).toFixed(2), batch, tokens: model.numPatches, token_steps: tokenSteps,
    sample_ms: +sampleMs.toFixed(1), guided_sample_ms: Number.isNaN(guidedMs) ? 'n/a' : +guidedMs.toFixed(1),
    ms_per_token_step: +(sampleMs / tokenSteps).toFixed(2), nll_forward_ms: +nllMs.toFixed(1),
  });
  x.dispose();
  model.dispose();
}

const result = { benchmark: 'tarflow-sample', backend: info.backend, adapter: info.adapter, features: info.features, repeats, date: new Date().toISOString(), rows };
writeResultTable(join(dirname(fileURLToPath(import.meta.url)), 'out'), 'tarflow-sample', result, rows, `backend ${info.backend} (${info.adapter ?? ''} ${info.features.join(' ')}), median of ${repeats}`);
// wasm's worker threads would keep Node alive.
process.exit(0);

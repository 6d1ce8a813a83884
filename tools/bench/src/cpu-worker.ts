// One CPU benchmark configuration in its own process (a wasm thread count is fixed at start-up).
//   node --import tsx --import ./src/use-sources.mjs src/cpu-worker.ts tfjs wasm <threads> [--quick]
//   node --import tsx --import ./src/use-sources.mjs src/cpu-worker.ts tfjs cpu [--quick]
//   node --import tsx --import ./src/use-sources.mjs src/cpu-worker.ts ort <threads> [--quick]
// Prints one JSON line: { engine, backend, threads, results: Timing[] }. --quick: small matmul and
// block shapes, tiny model configs at batch 1 (a smoke run).
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@fae/core';
import { VitBlock, timeIt, vitBlockFlops, type Timing } from './workloads.js';
import { ortBlockSession, ortMatmulSession } from './ort-graphs.js';

const quickShapes = process.argv.includes('--quick');
const [engine, a1, a2] = process.argv.slice(2).filter((a) => !a.startsWith('--'));
// --tfjs-kernels: tfjs-backend-wasm's own kernels (the "before" of FAE's wasm kernels).
const wasmKernels = process.argv.includes('--tfjs-kernels') ? 'tfjs' : 'fae';
const MM = quickShapes ? 256 : 1024;
const [B, T, D, H] = quickShapes ? [1, 64, 384, 6] : [8, 256, 384, 6]; // ViT-S block, 8 x 256 tokens

async function tfjsBench(backend: string, threads: number): Promise<Timing[]> {
  const info = await initBackend(backend, { wasmThreads: threads, wasmKernels });
  const results: Timing[] = [];
  const oneRun = backend === 'cpu'; // tfjs's pure-JS backend: one timed run each
  const a = tf.randomNormal([MM, MM], 0, 1, 'float32', 1);
  const b = tf.randomNormal([MM, MM], 0, 1, 'float32', 2);
  results.push(await timeIt(`matmul ${MM}^3`, () => tf.matMul(a, b), { flops: 2 * MM ** 3, iters: oneRun ? 1 : 5 }));
  const block = new VitBlock(D, H);
  const x = tf.randomNormal([B, T, D], 0, 1, 'float32', 3);
  results.push(await timeIt(`ViT-S block fwd ${B}x${T}x${D}`, () => block.forward(x), { flops: vitBlockFlops(B, T, D), iters: oneRun ? 1 : 3, warmup: oneRun ? 0 : 1 }));
  const vars = [...block.trainableVariables().values()];
  results.push(await timeIt(`ViT-S block fwd+bwd`, () => {
    const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(block.forward(x))) as tf.Scalar, vars);
    return [value, ...Object.values(grads)];
  }, { flops: 3 * vitBlockFlops(B, T, D), iters: oneRun ? 1 : 3, warmup: oneRun ? 0 : 1 }));
  tf.dispose([a, b, x]);
  block.dispose();
  // The pure-JS backend would take minutes per model workload: only the tiny ones of --quick there.
  if (backend !== 'cpu' || quickShapes) results.push(...(await modelWorkloads()));
  console.error(`[bench] ${backend}: ${info.adapter} ${info.features.join(' ')}`);
  return results;
}

/** Whole-model workloads, where the model packages provide them (skipped with a note otherwise). */
async function modelWorkloads(): Promise<Timing[]> {
  const out: Timing[] = [];
  const { modelBenchmarks } = await import('./model-workloads.js');
  for (const w of modelBenchmarks({ quick: quickShapes })) {
    try {
      out.push(await w());
      console.error(`[bench]   ${out.at(-1)!.name}: ${out.at(-1)!.ms.toFixed(1)} ms`);
    } catch (e) {
      out.push({ name: (e as { workload?: string }).workload ?? 'model workload', ms: NaN, note: `skipped: ${(e as Error).message}` });
      console.error(`[bench]   ${out.at(-1)!.name} failed:`, e);
    }
  }
  return out;
}

async function ortBench(threads: number): Promise<Timing[]> {
  const results: Timing[] = [];
  const mm = await ortMatmulSession(MM, threads);
  results.push(await mm.time(`matmul ${MM}^3`, 2 * MM ** 3));
  const blk = await ortBlockSession(B, T, D, H, threads);
  results.push(await blk.time(`ViT-S block fwd ${B}x${T}x${D}`, vitBlockFlops(B, T, D)));
  return results;
}

let results: Timing[];
let label: { engine: string; backend: string; threads: number; kernels?: string };
if (engine === 'ort') {
  const threads = Number(a1 ?? 1);
  label = { engine: 'onnxruntime-node', backend: 'cpu', threads };
  results = await ortBench(threads);
} else {
  const backend = a1 ?? 'wasm';
  const threads = Number(a2 ?? 1);
  label = { engine: 'tfjs', backend, threads: backend === 'wasm' ? threads : 1, ...(backend === 'wasm' ? { kernels: wasmKernels } : {}) };
  results = await tfjsBench(backend, threads);
}
process.stdout.write(`${JSON.stringify({ ...label, results })}\n`);
process.exit(0);

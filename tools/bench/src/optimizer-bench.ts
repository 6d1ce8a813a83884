// `npm run bench:optimizer -- [--backend wasm|cpu|webgpu] [--out DIR]`: one AdamW step (gradScale on,
// as the trainer clips) with @fae/core's fused update kernels and with tfjs ops (`fused: false`), on
// two parameter sets: many small tensors (a small DiT's shapes) and fewer large ones. JSON + table.
import * as tf from '@tensorflow/tfjs-core';
import { join } from 'node:path';
import { AdamW, initBackend } from '@fae/core';
import { machineInfo } from './machine.js';
import { restartWithSoftwareVulkan, scriptArg, writeResultTable } from './script.js';
import { oneElement, readOneElement, timeIt, type Timing } from './timing.js';

restartWithSoftwareVulkan();
const backend = scriptArg('backend', 'wasm');
const outDir = scriptArg('out', join(process.cwd(), 'bench-out'));
const info = await initBackend(backend, { wasmThreads: 1 });

const SETS: Record<string, number[][]> = {
  // 60 tensors, 0.38M parameters: the MNIST example's DiT-like widths (96 wide, 3x MLP)
  'small tensors (60, 0.38M params)': Array.from({ length: 10 }, () => [[96, 288], [288], [96, 96], [96], [96, 4], [4]]).flat(),
  // 60 tensors, 2.6M parameters: 128 x 512 projections
  'large tensors (60, 2.6M params)': Array.from({ length: 20 }, () => [[128, 512], [512], [512, 128]]).flat(),
};

const results: Array<Timing & { set: string; fused: boolean }> = [];
for (const [set, shapes] of Object.entries(SETS)) {
  const params = new Map(shapes.map((s, i) => [`p${i}`, tf.variable(tf.randomNormal(s, 0, 1, 'float32', i + 1))]));
  const grads = new Map([...params].map(([k, v], i) => [k, tf.randomNormal(v.shape, 0, 1, 'float32', 1000 + i)]));
  const last = [...params.values()].at(-1)!;
  for (const fused of [false, true]) {
    const opt = new AdamW(params, { lr: 1e-3, weightDecay: 0.01, fused });
    const r = await timeIt(`${set}, ${fused ? 'fused' : 'tfjs ops'}`, () => {
      opt.step(grads, { gradScale: 0.5 });
      return oneElement(last); // read after the step
    }, { warmup: 3, iters: 20, settle: readOneElement });
    results.push({ ...r, set, fused });
    opt.dispose();
  }
  tf.dispose([...params.values(), ...grads.values()]);
}

const machine = machineInfo(['@tensorflow/tfjs-core']);
const rows = Object.keys(SETS).map((set) => {
  const [ops, fused] = [false, true].map((f) => results.find((r) => r.set === set && r.fused === f)!.ms);
  return { 'parameter set': set, 'tfjs ops ms': ops.toFixed(2), 'fused ms': fused.toFixed(2), 'ops / fused': (ops / fused).toFixed(2) };
});
writeResultTable(outDir, `optimizer-${info.backend}`, { backend: info.backend, features: info.features, machine, results }, rows,
  `\nAdamW step, ${info.backend} (${info.features.join(', ')}); ${machine.cpu}, ${machine.cores} cores; Node ${machine.node}; ${machine.date}`);

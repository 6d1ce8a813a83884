// Issue #19, quality on the MNIST example: the DiT's sample accuracy and digit FID with W8A8 sampling
// against fp32, same seeds, same backend (the shipped checkpoints; `fae eval`'s judge and sampler).
//   node scripts/w8a8-digits.mjs [--models DIR] [--per-class 50] [--kernel scalar|subgroup-matrix|auto] [--out FILE]
// On a machine without WebGPU subgroup matrices (software Vulkan) it runs the scalar int8 kernel: the
// same integer products (int32 accumulation is exact in both kernels) and the same quantisation and
// dequantisation shaders, so the numbers are those of the tensor-core path up to the fp32 rounding of
// the rest of the network on that device. Variants: the DiT's Linears at W8A8; the DiT and both
// decoders (feature and pixel) at W8A8.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, quantizeLinears, type QuantizedLinears } from '@fae/core';
import { SHIPPED_CHECKPOINTS, readComponentFile } from '../src/checkpoints.js';
import { loadDigitModels, disposeDigitModels } from '../src/digits/models.js';
import { splitMnist } from '../src/data/mnist.js';
import { evaluateDigits, type GenerationMetrics } from '../src/pipeline/evaluate.js';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
};
const models = resolve(arg('models', SHIPPED_CHECKPOINTS));
const perClass = Number(arg('per-class', '50'));
const kernel = arg('kernel', 'scalar') as 'scalar' | 'subgroup-matrix' | 'auto';
const out = resolve(arg('out', 'w8a8-digits.json'));
const seed = 0;

const info = await initBackend('webgpu', kernel === 'scalar' ? {} : { unsafeApis: true });
const m = await loadDigitModels((component, file) => readComponentFile(models, component, file), ['encoder', 'fae', 'pixelDecoder', 'dit', 'classifier']);
const split = await splitMnist();
const evaluate = async (label: string): Promise<GenerationMetrics> => {
  const t0 = Date.now();
  const r = await evaluateDigits(m, split, { perClass, seed, generators: ['dit'], reconstructionDigits: 0, linearProbe: false });
  const g = r.generation.dit!;
  console.log(`${label}: accuracy ${g.accuracy.toFixed(3)}, digit FID ${g.fid.toFixed(2)}, n ${g.n} (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
  return g;
};

const report: Record<string, unknown> = {
  script: 'examples/cli/scripts/w8a8-digits.ts', models, perClass, seed, backend: info.backend, adapter: info.adapter,
  sampling: m.sampling, date: new Date().toISOString(), results: {} as Record<string, unknown>,
};
const results = report.results as Record<string, unknown>;
const save = () => {
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(`${out}.tmp`, JSON.stringify(report, null, 1));
  renameSync(`${out}.tmp`, out);
};
try {
  results.fp32 = await evaluate('fp32');
  save();
  const variants: Array<[string, Array<tf.Tensor | unknown>]> = [['w8a8 DiT', [m.dit]], ['w8a8 DiT + decoders', [m.dit, m.fae!.decoder, m.pixelDecoder]]];
  for (const [label, mods] of variants) {
    const handles: QuantizedLinears[] = [];
    try {
      for (const mod of mods) handles.push(await quantizeLinears(mod as Parameters<typeof quantizeLinears>[0], { mode: 'w8a8', kernel }));
      const stayed = handles.find((h) => !h.kernel);
      if (stayed) throw new Error(`stayed fp32: ${stayed.reason}`);
      results[label] = { ...(await evaluate(label)), kernel: handles[0].kernel, int8Linears: handles.reduce((n, h) => n + h.layers.length, 0) };
    } finally {
      for (const h of handles) h.dispose();
    }
    save();
  }
} finally {
  disposeDigitModels(m);
}
console.log(`wrote ${out}`);
process.exit(0);

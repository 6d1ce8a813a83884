// Issue #19: int8 (W8A8) on WebGPU through Dawn's subgroup matrices (tensor cores), measured:
//   (a) exactness: the int8 GEMM against the integer reference (JS Int32) on several shapes, ragged
//       ones included, PASS/FAIL per shape (the subgroup-matrix kernel where the device has it; the
//       scalar dot4I8Packed kernel always);
//   (b) int8 GEMM TOPS vs the fp32 FAE matmul on 4096^3 and the models' projection shapes (GEMM with
//       int32 output, GEMM with the dequantising epilogue, and the whole W8A8 linear incl. the
//       per-token activation quantisation);
//   (c) DINOv2-B encode (batch 32), FAE decode (batch 8), a LightningDiT-XL Euler+CFG step (batch 64)
//       at W8A8 (quantizeLinears) vs fp32, models from model-workloads.ts;
//   (d) the relative L2 error of each model's output at W8A8 vs fp32.
// One failing part never stops the others; the JSON (int8.json, or int8-quick.json) is rewritten
// atomically after every part. --quick: small shapes and the tiny model configs (a smoke run, e.g. on
// software Vulkan, where there are no subgroup matrices: it runs and says so, with the scalar kernel).
//   GPU machine:  node .device/int8-bench.mjs --out $OUT
//   sources:      node --import tsx --import ./tools/bench/src/use-sources.mjs tools/bench/src/int8-bench.ts --quick [--out DIR]
// Options: --kernels fae|tfjs (fp32 matmul kernels, default fae), --skip gemm,models,exact.
import * as tf from '@tensorflow/tfjs-core';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  UNSAFE_APIS_TOGGLE, configureInt8Kernels, initBackend, precompileInt8SubgroupMatrix, installNodeWebGPU, int8MatMul, int8MatMulReference, packInt8Rows, prepareInt8SubgroupMatrix, quantizeLinears,
  quantizeRows, registerFaeWebGPUKernels, subgroupMatrixConfigs, w8a8Linear, QuantizedWeight, Linear, type Int8Kernel, type Module, type QuantizedLinears,
} from '@fae/core';
import { restartWithSoftwareVulkan, scriptArg } from './script.js';
import { machineInfo } from './machine.js';
import { buildWorkload } from './model-workloads.js';
import { modelShapes, modelSpecs } from './model-shapes.js';
import { readOneElement, timeIt } from './timing.js';

restartWithSoftwareVulkan();

const quick = process.argv.includes('--quick');
const outDir = scriptArg('out', join(process.cwd(), 'bench-out'));
const fp32Kernels = scriptArg('kernels', 'fae');
const skip = new Set(scriptArg('skip', '').split(',').filter(Boolean));
const reportFile = join(outDir, `int8${quick ? '-quick' : ''}.json`);

// ---------------------------------------------------------------- report (atomic writes)
const report: Record<string, unknown> & { errors: Array<{ part: string; error: string }> } = {
  issue: 19,
  quick,
  machine: machineInfo(['@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-webgpu', 'webgpu']),
  errors: [],
};

function save(): void {
  mkdirSync(outDir, { recursive: true });
  writeFileSync(`${reportFile}.tmp`, JSON.stringify(report, null, 2));
  renameSync(`${reportFile}.tmp`, reportFile);
}

/** Runs one part; an exception is recorded (and printed) instead of ending the run. */
async function part<T>(name: string, fn: () => Promise<T>): Promise<T | null> {
  try {
    return await fn();
  } catch (e) {
    const error = e instanceof Error ? `${e.message}\n${e.stack?.split('\n').slice(1, 4).join('\n')}` : String(e);
    console.error(`[int8-bench] ${name} failed: ${error}`);
    report.errors.push({ part: name, error });
    return null;
  } finally {
    save();
  }
}

function table(title: string, rows: Array<Record<string, string | number>>): void {
  if (!rows.length) return;
  const cols = Object.keys(rows[0]);
  console.log(`\n${title}\n| ${cols.join(' | ')} |\n| ${cols.map(() => '---').join(' | ')} |`);
  for (const r of rows) console.log(`| ${cols.map((c) => r[c]).join(' | ')} |`);
}

// ---------------------------------------------------------------- backend
// Dawn's experimental features need the toggle when navigator.gpu is created; the backend package is
// imported after that (it registers itself only where navigator.gpu exists) through core's
// backends/webgpu entry, which hands initBackend the module (also inside the esbuild bundle).
await installNodeWebGPU({ dawnOptions: [UNSAFE_APIS_TOGGLE] });
await import('../../../packages/core/src/backends/webgpu.js');
const info = await initBackend('webgpu', { unsafeApis: true, webgpuKernels: 'tfjs' });
if (fp32Kernels === 'fae' && !registerFaeWebGPUKernels()) throw new Error('could not register FAE WebGPU kernels');
const backend = tf.backend() as unknown as { device: { features: Set<string> } };
const probe = await prepareInt8SubgroupMatrix();
const kernel: Int8Kernel = probe.variant ? 'subgroup-matrix' : 'scalar';
report.backend = { adapter: info.adapter, features: info.features, fp32Kernels, subgroupMatrixConfigs: subgroupMatrixConfigs(backend) };
report.subgroupMatrix = probe;
report.int8Kernel = kernel;
console.log(`[int8-bench] ${info.adapter}; fp32 matmul: ${fp32Kernels} kernels`);
console.log(probe.variant
  ? `[int8-bench] subgroup matrices: ${probe.variant.syntax} spelling, ${probe.variant.unit} units -> int8 kernel 'subgroup-matrix'`
  : `[int8-bench] NO subgroup matrices (${probe.reason}) -> the scalar int8 kernel (dot4I8Packed) runs everything below`);
save();

// ---------------------------------------------------------------- helpers
function randomInt8(n: number, seed: number): Int8Array {
  const v = new Int8Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    v[i] = ((s >>> 16) % 256) - 128;
  }
  v[0] = -128;
  v[n - 1] = 127;
  return v;
}

async function relL2(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  const [x, y] = [await a.data(), await b.data()];
  if (x.length !== y.length) throw new Error(`relL2: ${x.length} vs ${y.length} values`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < x.length; i++) {
    num += (x[i] - y[i]) ** 2;
    den += y[i] ** 2;
  }
  return Math.sqrt(num / den);
}

const settle = readOneElement;

// ---------------------------------------------------------------- (a) exactness
if (!skip.has('exact')) {
  await part('exactness', async () => {
    const shapes: Array<[number, number, number]> = quick
      ? [[1, 1, 1], [16, 16, 32], [150, 133, 301], [129, 257, 67]]
      : [[1, 1, 1], [16, 16, 32], [128, 128, 64], [150, 133, 301], [257, 1000, 777], [1024, 1152, 1152], [333, 4608, 1152], [2048, 768, 3072]];
    // the subgroup-matrix kernel at both K depths per step (kWords 16 = the default, 32), and the scalar one
    const kernels: Array<[Int8Kernel, 16 | 32]> = probe.variant ? [['subgroup-matrix', 16], ['subgroup-matrix', 32], ['scalar', 16]] : [['scalar', 16]];
    const rows: Array<Record<string, string | number>> = [];
    const results: unknown[] = [];
    for (const [m, n, k] of shapes) {
      const av = randomInt8(m * k, 3 * m + k);
      const bv = randomInt8(n * k, 5 * n + k + 1);
      const want = int8MatMulReference(av, bv, m, n, k);
      const a = tf.tensor1d(packInt8Rows(av, m, k), 'int32');
      const b = tf.tensor1d(packInt8Rows(bv, n, k), 'int32');
      for (const [kern, kWords] of kernels) {
        const label = kern === 'subgroup-matrix' ? `${kern} (kWords ${kWords})` : kern;
        try {
          if (kern === 'subgroup-matrix') await precompileInt8SubgroupMatrix([{ epilogue: 'int32', hasBias: false, activation: 'linear' }], kWords);
          configureInt8Kernels({ subgroupMatrixKWords: kWords });
          const c = int8MatMul(a, b, m, n, k, { kernel: kern, epilogue: 'int32' });
          const got = await c.data();
          c.dispose();
          let bad = 0;
          let first = -1;
          for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) { bad++; if (first < 0) first = i; }
          const r = { kernel: label, m, n, k, pass: bad === 0, mismatches: bad, ...(first >= 0 ? { firstMismatch: { index: first, got: got[first], want: want[first] } } : {}) };
          results.push(r);
          rows.push({ kernel: label, 'M x N x K': `${m} x ${n} x ${k}`, result: bad === 0 ? 'PASS' : `FAIL (${bad} of ${want.length})` });
        } catch (e) {
          results.push({ kernel: label, m, n, k, pass: false, error: (e as Error).message });
          rows.push({ kernel: label, 'M x N x K': `${m} x ${n} x ${k}`, result: `ERROR ${(e as Error).message.slice(0, 80)}` });
        } finally {
          configureInt8Kernels({ subgroupMatrixKWords: 16 });
        }
      }
      tf.dispose([a, b]);
    }
    report.exactness = results;
    table('(a) int8 GEMM vs the integer reference (exact)', rows);
  });
}

// ---------------------------------------------------------------- (b) GEMM throughput
if (!skip.has('gemm')) {
  await part('gemm', async () => {
    // [name, M (tokens), K (in), N (out)]
    const shapes: Array<[string, number, number, number]> = quick
      ? [['256^3', 256, 256, 256], ['ragged 300 x 136 -> 200', 300, 136, 200]]
      : [
        ['4096^3', 4096, 4096, 4096],
        ['DINOv2-B fc1, batch 32 (8224 tokens)', 8224, 768, 3072],
        ['DINOv2-B fc2', 8224, 3072, 768],
        ['FAE pixel decoder (ViT-L) fc1, batch 8', 2048, 1024, 4096],
        ['LightningDiT-XL qkv, batch 64 + CFG (32768 tokens)', 32768, 1152, 3456],
        ['LightningDiT-XL fc1', 32768, 1152, 4608],
        ['LightningDiT-XL fc2', 32768, 4608, 1152],
      ];
    const iters = quick ? 3 : 10;
    if (kernel === 'subgroup-matrix') await precompileInt8SubgroupMatrix([{ epilogue: 'int32', hasBias: false, activation: 'linear' }, { epilogue: 'dequant', hasBias: true, activation: 'linear' }]);
    const rows: Array<Record<string, string | number>> = [];
    const results: unknown[] = [];
    for (const [name, m, k, n] of shapes) {
      const ops = 2 * m * n * k;
      const x = tf.randomNormal([m, k], 0, 1, 'float32', 1);
      const w = tf.randomNormal([k, n], 0, 0.05, 'float32', 2);
      const bias = tf.randomNormal([n], 0, 0.1, 'float32', 3);
      const qw = QuantizedWeight.fromWeight(w);
      const qx = quantizeRows(x);
      const entry: Record<string, unknown> = { name, m, k, n };
      const timeOne = async (label: string, fn: () => tf.Tensor) => {
        try {
          const t = await timeIt(label, fn, { warmup: 2, iters, settle });
          entry[label] = { ms: t.ms, tops: ops / t.ms / 1e9 };
        } catch (e) {
          entry[label] = { error: (e as Error).message };
        }
      };
      await timeOne('fp32 matmul', () => tf.matMul(x, w));
      await timeOne('fp32 linear (matmul + bias)', () => tf.add(tf.matMul(x, w), bias));
      await timeOne(`int8 GEMM (${kernel}, int32 out)`, () => int8MatMul(qx, qw.packed, m, n, k, { kernel, epilogue: 'int32' }));
      if (kernel === 'subgroup-matrix') {
        const label = 'int8 GEMM (subgroup-matrix, kWords 32, int32 out)';
        try {
          await precompileInt8SubgroupMatrix([{ epilogue: 'int32', hasBias: false, activation: 'linear' }], 32);
          configureInt8Kernels({ subgroupMatrixKWords: 32 });
          await timeOne(label, () => int8MatMul(qx, qw.packed, m, n, k, { kernel, epilogue: 'int32' }));
        } catch (e) {
          entry[label] = { error: (e as Error).message };
        } finally {
          configureInt8Kernels({ subgroupMatrixKWords: 16 });
        }
      }
      await timeOne(`int8 GEMM (${kernel}, dequant + bias)`, () => int8MatMul(qx, qw.packed, m, n, k, { kernel, bias }));
      await timeOne(`W8A8 linear (${kernel}, quantise x + GEMM)`, () => w8a8Linear(x, qw, bias, { kernel }));
      try {
        const [y32, y8] = [tf.add(tf.matMul(x, w), bias), w8a8Linear(x, qw, bias, { kernel })];
        entry.relL2VsFp32 = await relL2(y8, y32);
        tf.dispose([y32, y8]);
      } catch (e) {
        entry.relL2VsFp32 = (e as Error).message;
      }
      tf.dispose([x, w, bias, qx]);
      qw.dispose();
      results.push(entry);
      const fmt = (label: string) => {
        const v = entry[label] as { ms?: number; tops?: number; error?: string };
        return v.error ? 'error' : `${v.ms!.toFixed(3)} ms (${v.tops!.toPrecision(3)} TOPS)`;
      };
      rows.push({
        shape: `${name}: [${m}, ${k}] x [${k}, ${n}]`,
        'fp32 matmul': fmt('fp32 matmul'),
        'int8 GEMM int32': fmt(`int8 GEMM (${kernel}, int32 out)`),
        ...(kernel === 'subgroup-matrix' ? { 'int8 GEMM int32, K 128/step': fmt('int8 GEMM (subgroup-matrix, kWords 32, int32 out)') } : {}),
        'int8 GEMM dequant': fmt(`int8 GEMM (${kernel}, dequant + bias)`),
        'W8A8 linear': fmt(`W8A8 linear (${kernel}, quantise x + GEMM)`),
        'rel L2 vs fp32': typeof entry.relL2VsFp32 === 'number' ? entry.relL2VsFp32.toExponential(2) : String(entry.relL2VsFp32),
      });
      report.gemm = results;
      save();
    }
    table(`(b) int8 GEMM (${kernel}) vs fp32 matmul (${fp32Kernels} kernels); TOPS = 2MNK / time`, rows);
  });
}

// ---------------------------------------------------------------- (c, d) whole models
/** Gives every all-zero Linear weight (LightningDiT's adaLN and final layers start at zero) N(0, 0.02) values, so outputs depend on every layer. */
async function randomizeZeroLinears(modules: Module[], seed: number): Promise<number> {
  const linears: Linear[] = [];
  const visit = (m: Module) => {
    for (const [, child] of m.children()) {
      if (child instanceof Linear) linears.push(child);
      else visit(child);
    }
  };
  for (const m of modules) visit(m);
  let n = 0;
  for (const lin of linears) {
    const amax = tf.max(tf.abs(lin.weight));
    const zero = (await amax.data())[0] === 0;
    amax.dispose();
    if (zero) {
      tf.tidy(() => lin.weight.assign(tf.randomNormal(lin.weight.shape, 0, 0.02, 'float32', seed + n)));
      n++;
    }
  }
  return n;
}

if (!skip.has('models')) {
  const specs = modelSpecs('gpu', quick ? 'quick' : 'full').filter((s) => ['dinov2_encode', 'fae_decode', 'dit_step'].includes(s.kind));
  const results: unknown[] = [];
  const rows: Array<Record<string, string | number>> = [];
  for (const spec of specs) {
    const sh = modelShapes(spec);
    await part(`model ${sh.name}`, async () => {
      const built = buildWorkload(spec, sh);
      const quantized: QuantizedLinears[] = [];
      const entry: Record<string, unknown> = { name: sh.name, kernel };
      results.push(entry);
      try {
        entry.randomizedZeroLinears = await randomizeZeroLinears(built.modules, 77);
        const output = built.output ?? built.call;
        const fp32 = await timeIt(`${sh.name} fp32`, built.call, { warmup: spec.warmup, iters: spec.iters, settle });
        entry.fp32 = { ms: fp32.ms, iters: fp32.iters };
        const ref = await output();
        const refList = Array.isArray(ref) ? ref : [ref];
        for (const m of built.modules) quantized.push(await quantizeLinears(m, { mode: 'w8a8', kernel }));
        entry.quantizedLinears = quantized.reduce((s, q) => s + q.layers.length, 0);
        const w8 = await timeIt(`${sh.name} W8A8`, built.call, { warmup: spec.warmup, iters: spec.iters, settle });
        entry.w8a8 = { ms: w8.ms, iters: w8.iters };
        entry.speedup = fp32.ms / w8.ms;
        const out = await output();
        const outList = Array.isArray(out) ? out : [out];
        entry.relL2 = await relL2(outList[0], refList[0]);
        entry.comparedOutput = built.output ? 'model output (DiT: the guided velocity)' : 'the call\'s output';
        tf.dispose([...refList, ...outList]);
        rows.push({
          model: sh.name,
          'fp32 ms': fp32.ms.toFixed(1),
          [`W8A8 (${kernel}) ms`]: w8.ms.toFixed(1),
          speedup: `${(fp32.ms / w8.ms).toFixed(2)}x`,
          'int8 Linears': entry.quantizedLinears as number,
          'rel L2 W8A8 vs fp32': (entry.relL2 as number).toExponential(2),
        });
      } finally {
        for (const q of quantized) q.dispose();
        built.dispose();
        report.models = results;
      }
    });
  }
  table(`(c, d) models at W8A8 (${kernel}) vs fp32; error = relative L2 of the output`, rows);
}

save();
console.log(`\n[int8-bench] wrote ${reportFile}${report.errors.length ? ` (${report.errors.length} part(s) failed: ${report.errors.map((e) => e.part).join(', ')})` : ''}`);
process.exit(0);

// Issue #19: int8 (W8A8) on WebGPU through Dawn's subgroup matrices (tensor cores), measured:
//   (a) exactness: the int8 GEMM against the integer reference (JS Int32) on several shapes, ragged
//       ones included, PASS/FAIL per shape (the subgroup-matrix kernel where the device has it; the
//       scalar dot4I8Packed kernel always);
//   (b) int8 GEMM TOPS vs the fp32 FAE matmul on 4096^3 and the models' projection shapes (GEMM with
//       int32 output, GEMM with the dequantising epilogue, and the whole W8A8 linear incl. the
//       per-token activation quantisation); first (b0) the subgroup-matrix kernel's tunings (K depth
//       per step, register prefetch) that ran exactly in (a) are timed and the fastest is kept;
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
import { randomInt8, relativeL2 } from '../../testing/src/int8-data.js';
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
let info: Awaited<ReturnType<typeof initBackend>>;
try {
  await installNodeWebGPU({ dawnOptions: [UNSAFE_APIS_TOGGLE] });
  await import('../../../packages/core/src/backends/webgpu.js');
  info = await initBackend('webgpu', { unsafeApis: true, webgpuKernels: 'tfjs' });
  if (fp32Kernels === 'fae' && !registerFaeWebGPUKernels()) throw new Error('could not register FAE WebGPU kernels');
} catch (e) {
  report.errors.push({ part: 'backend', error: (e as Error).message });
  save();
  console.error(`[int8-bench] the webgpu backend did not start: ${(e as Error).message}`);
  process.exit(1);
}
const backend = tf.backend() as unknown as { device: { features: Set<string> } };
const probe = await prepareInt8SubgroupMatrix();
report.backend = { adapter: info.adapter, features: info.features, fp32Kernels, subgroupMatrixConfigs: subgroupMatrixConfigs(backend) };
report.subgroupMatrix = probe;
console.log(`[int8-bench] ${info.adapter}; fp32 matmul: ${fp32Kernels} kernels`);
console.log(probe.variant
  ? `[int8-bench] subgroup matrices: ${probe.variant.syntax} spelling, ${probe.variant.unit} units -> the int8 kernel 'subgroup-matrix'`
  : `[int8-bench] NO subgroup matrices (${probe.reason}) -> the scalar int8 kernel (dot4I8Packed) runs everything below`);
save();

// ---------------------------------------------------------------- helpers
const settle = readOneElement;

// ---------------------------------------------------------------- subgroup-matrix tunings
// K words staged per step x register prefetch (configureInt8Kernels). (a) checks each; (b) times the
// exact ones on every shape and keeps the fastest for the rest of the run.
interface Tuning { subgroupMatrixKWords: 16 | 32; subgroupMatrixPrefetch: boolean }
const tuningName = (t: Tuning) => `K ${4 * t.subgroupMatrixKWords}/step${t.subgroupMatrixPrefetch ? ' + prefetch' : ''}`;
const TUNINGS: Tuning[] = [16, 32].flatMap((k) => [false, true].map((p) => ({ subgroupMatrixKWords: k as 16 | 32, subgroupMatrixPrefetch: p })));
const DEFAULT_TUNING = configureInt8Kernels({});
const INT32_SPEC = { epilogue: 'int32' as const, hasBias: false, activation: 'linear' as const };
const DEQUANT_SPECS = [true, false].map((hasBias) => ({ epilogue: 'dequant' as const, hasBias, activation: 'linear' as const }));
/** Tunings whose pipelines compiled and (after (a)) ran exactly. */
let usable: Tuning[] = [];
if (probe.variant) {
  for (const t of TUNINGS) {
    try {
      await precompileInt8SubgroupMatrix([INT32_SPEC, ...DEQUANT_SPECS], t.subgroupMatrixKWords, t.subgroupMatrixPrefetch);
      usable.push(t);
    } catch (e) {
      report.errors.push({ part: `compile ${tuningName(t)}`, error: (e as Error).message });
      console.error(`[int8-bench] ${tuningName(t)}: ${(e as Error).message}`);
    }
  }
}

// ---------------------------------------------------------------- (a) exactness
if (!skip.has('exact')) {
  await part('exactness', async () => {
    const shapes: Array<[number, number, number]> = quick
      ? [[1, 1, 1], [16, 16, 32], [150, 133, 301], [129, 257, 67]]
      : [[1, 1, 1], [16, 16, 32], [128, 128, 64], [150, 133, 301], [257, 1000, 777], [1024, 1152, 1152], [333, 4608, 1152], [2048, 768, 3072]];
    // every usable subgroup-matrix tuning, and the scalar kernel
    const runs: Array<{ label: string; kernel: Int8Kernel; tuning: Tuning }> = [
      ...usable.map((t) => ({ label: `subgroup-matrix, ${tuningName(t)}`, kernel: 'subgroup-matrix' as const, tuning: t })),
      { label: 'scalar', kernel: 'scalar', tuning: DEFAULT_TUNING },
    ];
    const rows: Array<Record<string, string | number>> = [];
    const results: unknown[] = [];
    const inexact = new Set<string>();
    for (const [m, n, k] of shapes) {
      const av = randomInt8(m * k, 3 * m + k);
      const bv = randomInt8(n * k, 5 * n + k + 1);
      const want = int8MatMulReference(av, bv, m, n, k);
      const a = tf.tensor1d(packInt8Rows(av, m, k), 'int32');
      const b = tf.tensor1d(packInt8Rows(bv, n, k), 'int32');
      for (const run of runs) {
        try {
          configureInt8Kernels(run.tuning);
          const c = int8MatMul(a, b, m, n, k, { kernel: run.kernel, epilogue: 'int32' });
          const got = await c.data();
          c.dispose();
          let bad = 0;
          let first = -1;
          for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) { bad++; if (first < 0) first = i; }
          if (bad) inexact.add(run.label);
          results.push({ kernel: run.label, m, n, k, pass: bad === 0, mismatches: bad, ...(first >= 0 ? { firstMismatch: { index: first, got: got[first], want: want[first] } } : {}) });
          rows.push({ kernel: run.label, 'M x N x K': `${m} x ${n} x ${k}`, result: bad === 0 ? 'PASS' : `FAIL (${bad} of ${want.length})` });
        } catch (e) {
          inexact.add(run.label);
          results.push({ kernel: run.label, m, n, k, pass: false, error: (e as Error).message });
          rows.push({ kernel: run.label, 'M x N x K': `${m} x ${n} x ${k}`, result: `ERROR ${(e as Error).message.slice(0, 80)}` });
        } finally {
          configureInt8Kernels(DEFAULT_TUNING);
        }
      }
      tf.dispose([a, b]);
    }
    usable = usable.filter((t) => !inexact.has(`subgroup-matrix, ${tuningName(t)}`));
    report.exactness = results;
    table('(a) int8 GEMM vs the integer reference (exact)', rows);
  });
}
if (probe.variant && !usable.length) console.error('[int8-bench] no subgroup-matrix tuning compiled and ran exactly: the int8 timings below use the scalar kernel');
const kernel: Int8Kernel = probe.variant && usable.length ? 'subgroup-matrix' : 'scalar';
report.int8Kernel = kernel;

// ---------------------------------------------------------------- (b) GEMM throughput
// [name, M (tokens), K (in), N (out)]
const GEMM_SHAPES: Array<[string, number, number, number]> = quick
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
const gemmIters = quick ? 3 : 10;
const tops = (m: number, n: number, k: number, ms: number) => (2 * m * n * k) / ms / 1e9;

if (!skip.has('gemm') && kernel === 'subgroup-matrix' && usable.length > 1) {
  await part('tuning', async () => {
    // int32-output GEMM of every exact tuning on every shape; the fastest in total is kept
    const total = new Map<string, number>();
    const rows: Array<Record<string, string | number>> = [];
    const results: unknown[] = [];
    for (const [name, m, k, n] of GEMM_SHAPES) {
      const qx = quantizeRows(tf.randomNormal([m, k], 0, 1, 'float32', 1));
      const qw = QuantizedWeight.fromWeight(tf.randomNormal([k, n], 0, 0.05, 'float32', 2));
      const row: Record<string, string | number> = { shape: name };
      for (const t of usable) {
        try {
          configureInt8Kernels(t);
          const r = await timeIt(name, () => int8MatMul(qx, qw.packed, m, n, k, { kernel, epilogue: 'int32' }), { warmup: 2, iters: gemmIters, settle });
          total.set(tuningName(t), (total.get(tuningName(t)) ?? 0) + r.ms);
          results.push({ shape: name, m, k, n, tuning: t, ms: r.ms, tops: tops(m, n, k, r.ms) });
          row[tuningName(t)] = `${r.ms.toFixed(3)} ms (${tops(m, n, k, r.ms).toPrecision(3)} TOPS)`;
        } catch (e) {
          total.set(tuningName(t), Infinity); // never chosen
          results.push({ shape: name, m, k, n, tuning: t, error: (e as Error).message });
          row[tuningName(t)] = 'error';
        }
      }
      configureInt8Kernels(DEFAULT_TUNING);
      tf.dispose(qx);
      qw.dispose();
      rows.push(row);
    }
    const best = usable.reduce((a, b) => (total.get(tuningName(a))! <= total.get(tuningName(b))! ? a : b));
    if (!Number.isFinite(total.get(tuningName(best))!)) throw new Error('every tuning failed on some shape');
    configureInt8Kernels(best);
    report.tuning = { results, totalsMs: Object.fromEntries(total), chosen: best, chosenName: tuningName(best) };
    table(`(b0) subgroup-matrix GEMM tunings, int32 output; kept: ${tuningName(best)}`, rows);
  });
  if (!report.tuning) configureInt8Kernels(usable[0]); // the tuning part failed: the first exact one
} else if (kernel === 'subgroup-matrix') configureInt8Kernels(usable[0]);
report.int8Tuning = kernel === 'subgroup-matrix' ? configureInt8Kernels({}) : null;

if (!skip.has('gemm')) {
  await part('gemm', async () => {
    const tuned = kernel === 'subgroup-matrix' ? `subgroup-matrix, ${tuningName(configureInt8Kernels({}) as Tuning)}` : 'scalar';
    const rows: Array<Record<string, string | number>> = [];
    const results: unknown[] = [];
    for (const [name, m, k, n] of GEMM_SHAPES) {
      const x = tf.randomNormal([m, k], 0, 1, 'float32', 1);
      const w = tf.randomNormal([k, n], 0, 0.05, 'float32', 2);
      const bias = tf.randomNormal([n], 0, 0.1, 'float32', 3);
      const qw = QuantizedWeight.fromWeight(w);
      const qx = quantizeRows(x);
      const entry: Record<string, unknown> = { name, m, k, n, int8: tuned };
      const timeOne = async (label: string, fn: () => tf.Tensor) => {
        try {
          const t = await timeIt(label, fn, { warmup: 2, iters: gemmIters, settle });
          entry[label] = { ms: t.ms, tops: tops(m, n, k, t.ms) };
        } catch (e) {
          entry[label] = { error: (e as Error).message };
        }
      };
      await timeOne('fp32 matmul', () => tf.matMul(x, w));
      await timeOne('fp32 linear (matmul + bias)', () => tf.add(tf.matMul(x, w), bias));
      await timeOne('int8 GEMM (int32 out)', () => int8MatMul(qx, qw.packed, m, n, k, { kernel, epilogue: 'int32' }));
      await timeOne('int8 GEMM (dequant + bias)', () => int8MatMul(qx, qw.packed, m, n, k, { kernel, bias }));
      await timeOne('W8A8 linear (quantise x + GEMM + dequant)', () => w8a8Linear(x, qw, bias, { kernel }));
      try {
        const [y32, y8] = [tf.add(tf.matMul(x, w), bias), w8a8Linear(x, qw, bias, { kernel })];
        entry.relL2VsFp32 = await relativeL2(y8, y32);
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
        'fp32 linear': fmt('fp32 linear (matmul + bias)'),
        'int8 GEMM int32': fmt('int8 GEMM (int32 out)'),
        'int8 GEMM dequant': fmt('int8 GEMM (dequant + bias)'),
        'W8A8 linear': fmt('W8A8 linear (quantise x + GEMM + dequant)'),
        'rel L2 vs fp32': typeof entry.relL2VsFp32 === 'number' ? entry.relL2VsFp32.toExponential(2) : String(entry.relL2VsFp32),
      });
      report.gemm = results;
      save();
    }
    table(`(b) int8 GEMM (${tuned}) vs fp32 matmul (${fp32Kernels} kernels); TOPS = 2MNK / time`, rows);
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
        entry.relL2 = await relativeL2(outList[0], refList[0]);
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
  const tuned = kernel === 'subgroup-matrix' ? `subgroup-matrix, ${tuningName(configureInt8Kernels({}) as Tuning)}` : 'scalar';
  table(`(c, d) models at W8A8 (${tuned}) vs fp32; error = relative L2 of the output`, rows);
}

save();
console.log(`\n[int8-bench] wrote ${reportFile}${report.errors.length ? ` (${report.errors.length} part(s) failed: ${report.errors.map((e) => e.part).join(', ')})` : ''}`);
process.exit(0);

// `npm run bench` (CPU part): tfjs on wasm (1 thread and all cores), tfjs cpu (matmul and block only),
// and onnxruntime-node on the same shapes, each configuration in its own process, on this machine,
// in this run. Writes tools/bench/out/cpu-<time>.json and prints a markdown table with the ratios.
// Whole-model workloads (issue #11: model-shapes.ts, cpu list) run in the tfjs configurations.
//   npm run bench [-- --quick] [-- --with-cpu]     (in tools/bench)
//   node --import tsx --import ./src/use-sources.mjs src/cpu-bench.ts [--quick] [--with-cpu]
// --quick: small matmul/block shapes and tiny model configs at batch 1, a smoke run. The full run is
// for a quiet machine: the model workloads take seconds each per configuration.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { machineInfo } from './machine.js';
import type { Timing } from './timing.js';

const here = dirname(fileURLToPath(import.meta.url));
const quick = process.argv.includes('--quick');

interface Run {
  engine: string;
  backend: string;
  threads: number;
  kernels?: string;
  results: Timing[];
  error?: string;
}

const cores = cpus().length;
const configs: string[][] = [
  ['tfjs', 'wasm', '1', '--tfjs-kernels'], // before: tfjs-backend-wasm's own kernels
  ['tfjs', 'wasm', '1'],
  ...(cores > 1 ? [['tfjs', 'wasm', String(cores)]] : []),
  ['ort', '1'],
  ...(cores > 1 ? [['ort', String(cores)]] : []),
  ...(process.argv.includes('--with-cpu') ? [['tfjs', 'cpu']] : []),
];

const runs: Run[] = [];
for (const args of configs) {
  console.error(`[bench] ${args.join(' ')} ...`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--import', join(here, 'use-sources.mjs'), join(here, 'cpu-worker.ts'), ...args, ...(quick ? ['--quick'] : [])], {
    encoding: 'utf8', timeout: 900_000, stdio: ['ignore', 'pipe', 'pipe'],
  });
  for (const l of (r.stderr ?? '').split('\n')) if (l.startsWith('[bench]')) console.error(l);
  const line = r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).at(-1);
  if (r.status === 0 && line) runs.push(JSON.parse(line));
  else runs.push({ engine: args[0] === 'ort' ? 'onnxruntime-node' : 'tfjs', backend: args[1], threads: Number(args.at(-1)) || 1, results: [], error: (r.stderr || r.error?.message || '').slice(-500) });
}

const machine = machineInfo(['@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-wasm', 'onnxruntime-node']);
const tfjsVersion = machine.versions['@tensorflow/tfjs-core'];
const ortVersion = machine.versions['onnxruntime-node'];
const outDir = join(here, '..', 'out');
mkdirSync(outDir, { recursive: true });
const file = join(outDir, `cpu-${quick ? 'quick-' : ''}${machine.date.replace(/[:.]/g, '-')}.json`);
writeFileSync(file, JSON.stringify({ quick, machine, runs }, null, 2));

const rate = (t: Timing) => (t.rate ? `, ${t.rate.toFixed(t.rate < 10 ? 2 : 1)} ${t.unit}` : '');
const fmt = (t?: Timing) => (!t ? '' : Number.isNaN(t.ms) ? (t.note ?? 'n/a') : `${t.ms.toFixed(1)} ms${t.gflops ? ` (${t.gflops.toFixed(t.gflops < 1 ? 2 : 1)} GFLOP/s${rate(t)})` : ''}`);
const names = [...new Set(runs.flatMap((r) => r.results.map((t) => t.name)))];
const label = (r: Run) => `${r.engine}${r.engine === 'tfjs' ? ` ${r.backend}` : ''}, ${r.threads} thr${r.kernels ? `, ${r.kernels} kernels` : ''}`;
console.log(`\nCPU benchmark${quick ? ' (--quick)' : ''}: ${machine.cpu}, ${cores} cores, ${machine.memoryGiB} GiB, ${machine.os}, Node ${machine.node}, tfjs ${tfjsVersion}, onnxruntime-node ${ortVersion}, ${machine.date}\n`);
console.log(`| workload | ${runs.map(label).join(' | ')} |`);
console.log(`| --- | ${runs.map(() => '---').join(' | ')} |`);
for (const n of names) console.log(`| ${n} | ${runs.map((r) => fmt(r.results.find((t) => t.name === n))).join(' | ')} |`);
console.log('\ntfjs-wasm / onnxruntime-node time ratio at equal threads (1.0 = parity; target <= 1.5):');
for (const r of runs.filter((x) => x.engine === 'tfjs' && x.backend === 'wasm' && x.kernels !== 'tfjs')) {
  const o = runs.find((x) => x.engine === 'onnxruntime-node' && x.threads === r.threads);
  if (!o) continue;
  for (const t of r.results) {
    const ot = o.results.find((x) => x.name === t.name);
    if (ot) console.log(`- ${t.name}, ${r.threads} thread(s): ${(t.ms / ot.ms).toFixed(2)}x`);
  }
}
for (const r of runs.filter((x) => x.error)) console.log(`\n${label(r)} failed: ${r.error}`);
console.log(`\nJSON: ${file}`);

// `npm run bench` (CPU part): tfjs on wasm (1 thread and all cores), tfjs cpu (matmul and block only),
// and onnxruntime-node on the same shapes, each configuration in its own process, on this machine,
// in this run. Writes tools/bench/out/cpu-<time>.json and prints a markdown table with the ratios.
//   node --import tsx src/cpu-bench.ts [--quick]
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Timing } from './workloads.js';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const version = (pkg: string) => {
  try {
    return JSON.parse(readFileSync(require.resolve(`${pkg}/package.json`), 'utf8')).version as string;
  } catch {
    return 'not installed';
  }
};

interface Run {
  engine: string;
  backend: string;
  threads: number;
  results: Timing[];
  error?: string;
}

const cores = cpus().length;
const configs: string[][] = [
  ['tfjs', 'wasm', '1'],
  ...(cores > 1 ? [['tfjs', 'wasm', String(cores)]] : []),
  ['ort', '1'],
  ...(cores > 1 ? [['ort', String(cores)]] : []),
  ...(process.argv.includes('--with-cpu') ? [['tfjs', 'cpu']] : []),
];

const runs: Run[] = [];
for (const args of configs) {
  console.error(`[bench] ${args.join(' ')} ...`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(here, 'cpu-worker.ts'), ...args], { encoding: 'utf8', timeout: 900_000 });
  const line = r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).at(-1);
  if (r.status === 0 && line) runs.push(JSON.parse(line));
  else runs.push({ engine: args[0] === 'ort' ? 'onnxruntime-node' : 'tfjs', backend: args[1], threads: Number(args.at(-1)) || 1, results: [], error: (r.stderr || r.error?.message || '').slice(-500) });
}

const machine = {
  cpu: cpus()[0]?.model ?? 'unknown',
  cores,
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  node: process.version,
  tfjs: version('@tensorflow/tfjs-core'),
  onnxruntime: version('onnxruntime-node'),
  date: new Date().toISOString(),
};
const outDir = join(here, '..', 'out');
mkdirSync(outDir, { recursive: true });
const file = join(outDir, `cpu-${machine.date.replace(/[:.]/g, '-')}.json`);
writeFileSync(file, JSON.stringify({ machine, runs }, null, 2));

const fmt = (t?: Timing) => (!t ? '' : Number.isNaN(t.ms) ? (t.note ?? 'n/a') : `${t.ms.toFixed(1)} ms${t.gflops ? ` (${t.gflops.toFixed(1)} GFLOP/s)` : ''}`);
const names = [...new Set(runs.flatMap((r) => r.results.map((t) => t.name)))];
const label = (r: Run) => `${r.engine}${r.engine === 'tfjs' ? ` ${r.backend}` : ''}, ${r.threads} thr`;
console.log(`\nCPU benchmark: ${machine.cpu}, ${cores} cores, ${machine.memoryGiB} GiB, Node ${machine.node}, tfjs ${machine.tfjs}, onnxruntime-node ${machine.onnxruntime}\n`);
console.log(`| workload | ${runs.map(label).join(' | ')} |`);
console.log(`| --- | ${runs.map(() => '---').join(' | ')} |`);
for (const n of names) console.log(`| ${n} | ${runs.map((r) => fmt(r.results.find((t) => t.name === n))).join(' | ')} |`);
console.log('\ntfjs-wasm / onnxruntime-node time ratio at equal threads (1.0 = parity; target <= 1.5):');
for (const r of runs.filter((x) => x.engine === 'tfjs' && x.backend === 'wasm')) {
  const o = runs.find((x) => x.engine === 'onnxruntime-node' && x.threads === r.threads);
  if (!o) continue;
  for (const t of r.results) {
    const ot = o.results.find((x) => x.name === t.name);
    if (ot) console.log(`- ${t.name}, ${r.threads} thread(s): ${(t.ms / ot.ms).toFixed(2)}x`);
  }
}
for (const r of runs.filter((x) => x.error)) console.log(`\n${label(r)} failed: ${r.error}`);
console.log(`\nJSON: ${file}`);

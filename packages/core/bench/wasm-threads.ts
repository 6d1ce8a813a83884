// wasm in Node: one thread vs all cores, for a small and a large transformer, on this machine as it is
// and with every core kept busy by spinning processes. Each case runs in a fresh process (the thread
// count is fixed when the backend starts). Writes bench/out/wasm-threads.json and prints a table.
//   npm run bench:threads -w @fae/core            (FAE_BENCH_REPS=N for more timed runs)
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const MODELS = {
  // tokens, width, heads, blocks, batch: a small LightningDiT-like block stack and a ViT-B-like one
  small: { tokens: 16, dim: 64, heads: 4, blocks: 2, batch: 2 },
  large: { tokens: 256, dim: 768, heads: 12, blocks: 2, batch: 2 },
} as const;
type ModelName = keyof typeof MODELS;

async function child(model: ModelName, threads: number): Promise<void> {
  const tf = await import('@tensorflow/tfjs-core');
  const { initBackend, MultiHeadAttention, Mlp, LayerNorm } = await import('../src/index.js');
  const info = await initBackend('wasm', { wasmThreads: threads });
  const m = MODELS[model];
  const blocks = Array.from({ length: m.blocks }, (_, i) => ({
    n1: new LayerNorm(m.dim), attn: new MultiHeadAttention(m.dim, m.heads, { seed: i }),
    n2: new LayerNorm(m.dim), mlp: new Mlp(m.dim, 4 * m.dim, m.dim, { seed: 100 + i }),
  }));
  const x = tf.randomNormal([m.batch, m.tokens, m.dim], 0, 1, 'float32', 1);
  const forward = () => tf.tidy(() => blocks.reduce((h: any, b) => {
    const a = h.add(b.attn.forward(b.n1.forward(h)));
    return a.add(b.mlp.forward(b.n2.forward(a)));
  }, x));
  const reps = Number(process.env.FAE_BENCH_REPS ?? (model === 'small' ? 30 : 8));
  for (let i = 0; i < 2; i++) forward().dataSync();
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    const y = forward();
    y.dataSync();
    ms.push(performance.now() - t0);
    y.dispose();
  }
  ms.sort((a, b) => a - b);
  console.log(JSON.stringify({ model, threads: info.features.find((f) => f.startsWith('threads:')) ?? 'single-thread', medianMs: ms[ms.length >> 1], minMs: ms[0] }));
}

function runCase(model: ModelName, threads: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), 'child', model, String(threads)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('close', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()!)) : reject(new Error(`case ${model}/${threads} exited ${code}`))));
  });
}

async function main(): Promise<void> {
  const all = cpus().length;
  const results: Array<Record<string, unknown>> = [];
  for (const load of ['as-is', 'busy'] as const) {
    const spinners = load === 'busy' ? Array.from({ length: all }, () => spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' })) : [];
    try {
      for (const model of Object.keys(MODELS) as ModelName[]) {
        for (const threads of [1, all]) {
          const load1 = loadavg()[0];
          const r = await runCase(model, threads);
          results.push({ load, loadavg1: +load1.toFixed(2), requested: threads, ...r });
          console.error(JSON.stringify(results[results.length - 1]));
        }
      }
    } finally {
      for (const s of spinners) s.kill('SIGKILL');
    }
  }
  const cpu = spawnSync('sh', ['-c', "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], { encoding: 'utf8' }).stdout.trim();
  const out = join(here, 'out', 'wasm-threads.json');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify({ cores: all, cpu, node: process.version, date: new Date().toISOString(), models: MODELS, results }, null, 2));
  console.log('| load | model | threads | median ms | min ms | loadavg |\n| --- | --- | --- | --- | --- | --- |');
  for (const r of results) console.log(`| ${r.load} | ${r.model} | ${r.threads} | ${(r.medianMs as number).toFixed(1)} | ${(r.minMs as number).toFixed(1)} | ${r.loadavg1} |`);
  console.log(`wrote ${out}`);
}

if (process.argv[2] === 'child') await child(process.argv[3] as ModelName, Number(process.argv[4]));
else await main();

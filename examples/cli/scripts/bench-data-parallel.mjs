// Steps per second of data-parallel training (1 vs 2 replica processes, wasm) on the MLP of
// packages/pipeline/test/fixtures/dp-replica.mjs: node scripts/bench-data-parallel.mjs <out.json>
// (needs the built @fae/pipeline: npx turbo run build --filter=@fae/pipeline).
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { startReplicas } from '@fae/pipeline';
const S = new URL('../../../packages/pipeline/test/fixtures/dp-replica.mjs', import.meta.url).pathname;
const results = [];
for (const hidden of [256, 4096]) for (const n of [1, 2]) {
  const outs = (await startReplicas(S, n, { args: ['64', '21', '1', String(hidden)] })).map((s) => JSON.parse(s));
  const params = 6 * hidden + hidden + hidden * 3 + 3;
  results.push({ replicas: n, globalBatch: 64, hidden, params, stepsPerSecond: Math.min(...outs.map((o) => o.stepsPerSecond)), perReplica: outs.map((o) => o.stepsPerSecond) });
  console.error(JSON.stringify(results.at(-1)));
}
writeFileSync(process.argv[2], JSON.stringify({ date: new Date().toISOString(), machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version, note: 'shared machine' }, backend: 'wasm, 1 thread per replica', model: 'Mlp(6, hidden, 3), gelu, AdamW, clip 1, MSE; packages/pipeline/test/fixtures/dp-replica.mjs', steps: '20 timed after 1 warm-up', results }, null, 2) + '\n');

// Steps per second of data-parallel training through core's Trainer (`replicas`), 1 vs 2 replica
// processes (wasm, one thread each): trainStageIb of packages/pipeline/test/fixtures/dp-train.mjs on a
// random feature cache [512, 8, 8, 64], global batch 64, adapter + feature decoder of width 128,
// depth 2. node scripts/bench-data-parallel-trainer.mjs <out.json> (needs the built @fae/pipeline).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng, initBackend } from '@fae/core';
import { buildCache, startReplicas } from '@fae/pipeline';

const S = new URL('../../../packages/pipeline/test/fixtures/dp-train.mjs', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'fae-bench-dp-'));
await initBackend('cpu');
const rng = new Rng(1);
await buildCache(join(dir, 'cache'), async function* () {
  for (let b = 0; b < 8; b++) yield { features: rng.normal([64, 8, 8, 64]), labels: new Int32Array(64) };
}, { shardSize: 128, dtype: 'F32', total: 512, meta: { bench: 'dp' } });
const [batch, steps, width, depth] = [64, 11, 128, 2];
const results = [];
const load = [loadavg()[0]];
for (const n of [1, 2, 1, 2]) {
  const outs = (await startReplicas(S, n, { args: ['stage-ib', join(dir, 'cache'), String(batch), '1', String(steps), String(width), String(depth)] })).map((s) => JSON.parse(s));
  results.push({ replicas: n, globalBatch: batch, perReplicaBatch: batch / n, params: outs[0].params, stepsPerSecond: Math.min(...outs.map((o) => o.stepsPerSecond)), perReplica: outs.map((o) => o.stepsPerSecond), lastLoss: outs[0].losses.at(-1) });
  console.error(JSON.stringify(results.at(-1)));
  load.push(loadavg()[0]);
}
rmSync(dir, { recursive: true, force: true });
writeFileSync(process.argv[2], JSON.stringify({
  date: new Date().toISOString(), machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version, note: 'shared machine', loadavg1: load },
  backend: 'wasm, 1 thread per replica', path: "core Trainer with replicas (trainStageIb), @fae/pipeline's startReplicas / ReplicaGroup",
  model: `FeatureAutoEncoder: adapter headDim ${width / 2}, feature decoder width ${width} depth ${depth}, features [8, 8, 64], latent 4`,
  steps: `${steps - 1} timed after 1 warm-up; runs in the order 1, 2, 1, 2 replicas`, results,
}, null, 2) + '\n');

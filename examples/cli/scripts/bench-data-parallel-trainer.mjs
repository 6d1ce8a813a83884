// Steps per second of data-parallel training through core's Trainer (`replicas`), 1 vs N replica
// processes: trainStageIb of packages/pipeline/test/fixtures/dp-train.mjs on a random feature cache
// [512, 8, 8, 64], global batch 64, adapter + feature decoder of width 128, depth 2 (CPU defaults).
//   node --import tsx scripts/bench-data-parallel-trainer.mjs <out.json> [--backend wasm|webgpu]
//        [--replicas 1,2] [--batch 64] [--width 128] [--depth 2] [--steps 11] [--repeat 2]
// Replica r gets GPU r's selection environment from `fae launch`'s planGpus (DRI_PRIME=pci-...!).
// Needs the built @fae/pipeline.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Rng, initBackend } from '@fae/core';
import { buildCache, startReplicas } from '@fae/pipeline';
import { planGpus } from '../src/commands/gpu-select.ts';

const { values: v, positionals } = parseArgs({ allowPositionals: true, options: {
  backend: { type: 'string', default: 'wasm' }, replicas: { type: 'string', default: '1,2' }, batch: { type: 'string', default: '64' },
  width: { type: 'string', default: '128' }, depth: { type: 'string', default: '2' }, steps: { type: 'string', default: '11' }, repeat: { type: 'string', default: '2' },
} });

const S = new URL('../../../packages/pipeline/test/fixtures/dp-train.mjs', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'fae-bench-dp-'));
await initBackend('cpu');
const rng = new Rng(1);
await buildCache(join(dir, 'cache'), async function* () {
  for (let b = 0; b < 8; b++) yield { features: rng.normal([64, 8, 8, 64]), labels: new Int32Array(64) };
}, { shardSize: 128, dtype: 'F32', total: 512, meta: { bench: 'dp' } });
const [batch, steps, width, depth] = [v.batch, v.steps, v.width, v.depth].map(Number);
const counts = v.replicas.split(',').map(Number);
const results = [];
const load = [loadavg()[0]];
for (let k = 0; k < Number(v.repeat); k++) for (const n of counts) {
  const gpu = planGpus(n);
  for (const w of gpu.warnings) console.error(`warning: ${w}`);
  const env = (rank) => ({ ...gpu.env(rank), FAE_DP_BACKEND: v.backend });
  const outs = (await startReplicas(S, n, { env, args: ['stage-ib', join(dir, 'cache'), String(batch), '1', String(steps), String(width), String(depth)] })).map((s) => JSON.parse(s));
  results.push({ replicas: n, backend: outs[0].backend, adapter: outs[0].adapter, gpus: gpu.gpus.map((g) => g.pci), globalBatch: batch, perReplicaBatch: batch / n, params: outs[0].params, stepsPerSecond: Math.min(...outs.map((o) => o.stepsPerSecond)), perReplica: outs.map((o) => o.stepsPerSecond), lastLoss: outs[0].losses.at(-1) });
  console.error(JSON.stringify(results.at(-1)));
  load.push(loadavg()[0]);
}
rmSync(dir, { recursive: true, force: true });
writeFileSync(positionals[0], JSON.stringify({
  date: new Date().toISOString(), machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version, note: 'shared machine', loadavg1: load },
  backend: `${v.backend}${v.backend === 'wasm' ? ', 1 thread per replica' : ''}`, path: "core Trainer with replicas (trainStageIb), @fae/pipeline's startReplicas / ReplicaGroup",
  model: `FeatureAutoEncoder: adapter headDim ${width / 2}, feature decoder width ${width} depth ${depth}, features [8, 8, 64], latent 4`,
  steps: `${steps - 1} timed after 1 warm-up; replica counts ${v.replicas}, ${v.repeat} rounds`, results,
}, null, 2) + '\n');

#!/usr/bin/env node
// Images per second of sharded sampling and feature caching with 1 and N processes on this host:
//   node scripts/bench-shards.mjs [--procs 2] [--samples 96] [--steps 12] [--images 2048] [--backend wasm] [--out results.json]
// Each configuration runs `fae launch --gpus P -- fae shard ...` (P processes, wasm, one thread each) into a
// fresh folder, then the merge; wall time covers process start, model loading, the work and the merge.
// The merged samples of 1 and N processes are compared byte for byte and the result recorded.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values: v } = parseArgs({ options: { procs: { type: 'string', default: '2' }, samples: { type: 'string', default: '96' }, steps: { type: 'string', default: '12' }, images: { type: 'string', default: '2048' }, backend: { type: 'string', default: 'wasm' }, out: { type: 'string' } } });
const BIN = fileURLToPath(new URL('../bin/fae.mjs', import.meta.url));
const MODELS = fileURLToPath(new URL('../checkpoints', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'fae-bench-shards-'));
const fae = (args) => JSON.parse(execFileSync(process.execPath, [BIN, ...args, '--quiet'], { encoding: 'utf8', maxBuffer: 1 << 26 }));

function run(kind, procs) {
  const dir = join(root, `${kind}-${procs}`);
  const work = kind === 'sample'
    ? ['shard', 'sample', '--models', MODELS, '--count', v.samples, '--steps', v.steps, '--batch', '8', '--backend', v.backend, '--out', dir]
    : ['shard', 'cache', '--models', MODELS, '--data', 'mnist:all', '--images', v.images, '--batch', '32', '--backend', v.backend, '--out', dir];
  const t0 = performance.now();
  const launched = fae(['launch', '--gpus', String(procs), '--', ...work]);
  fae(['shard', 'merge', kind === 'sample' ? 'samples' : 'cache', '--out', dir]);
  const seconds = (performance.now() - t0) / 1000;
  const items = Number(kind === 'sample' ? v.samples : v.images);
  return { kind, processes: procs, items, wallSeconds: seconds, imagesPerSecond: items / seconds, perProcess: launched.results.map((r) => ({ shard: r.shard, items: r.output.items, seconds: r.output.seconds, itemsPerSecond: r.output.itemsPerSecond })), dir };
}

const bytes = (dir) => readFileSync(join(dir, 'samples.safetensors'));
const results = [];
try {
  for (const kind of ['sample', 'cache']) {
    const a = run(kind, 1);
    const b = run(kind, Number(v.procs));
    const same = kind === 'sample' ? Buffer.compare(bytes(a.dir), bytes(b.dir)) === 0 : null; // caches: compared bit for bit in test/shards.test.ts
    for (const r of [a, b]) {
      delete r.dir;
      results.push({ ...r, mergedEqualsOneProcess: r === b ? same : undefined });
    }
    process.stderr.write(`${kind}: 1 process ${a.imagesPerSecond.toFixed(1)} img/s, ${v.procs} processes ${b.imagesPerSecond.toFixed(1)} img/s (x${(b.imagesPerSecond / a.imagesPerSecond).toFixed(2)})\n`);
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
const report = {
  date: new Date().toISOString(), machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version, note: 'shared machine (other engineers running builds/tests)' },
  backend: v.backend === 'wasm' ? 'wasm (1 thread per process)' : v.backend, models: 'examples/cli/checkpoints (digits, 28x28)', options: v, results,
};
const json = `${JSON.stringify(report, null, 2)}\n`;
if (v.out) writeFileSync(v.out, json);
process.stdout.write(json);

#!/usr/bin/env node
// fae-eval: FID / sFID / IS / precision-recall from the command line (Node). Metrics are printed as
// JSON on stdout; progress goes to stderr.
//
//   fae-eval eval  <images-dir|samples.npz> --ref <stats.npz> --weights <inception> [--save-stats s.npz] [--features]
//   fae-eval stats <images-dir|samples.npz> --weights <inception> --out <stats.npz> [--features]
//   fae-eval stats <images-dir|samples.npz> --weights <inception> --shard i/n|auto --out <dir>   (see stats-shards.ts)
//   fae-eval fid   <a.npz> <b.npz>
//   fae-eval merge <out.npz> <part.npz> [<part.npz> ...]  |  fae-eval merge <out.npz> --shards <dir>
// Common: --backend cpu|wasm|webgpu|auto (default wasm; started by core's initBackend), --batch N (16), --limit N, --no-spatial,
// --k N (precision/recall neighbourhood, 3), --splits N (Inception Score splits, 10), --fast-stats
// (covariance products on the backend in float32; default exact float64 in JS).
// --weights: torch-fidelity's weights-inception-2015-12-05-6726825d.pth, a safetensors copy, a URL,
// a hub location org/name/file, or a procedural weights.json (tests and benchmarks).
// Precision / recall are reported when the reference file holds pool3 activations (made with
// `stats --features`); `--features` also keeps the samples' activations in --save-stats.
import * as tf from '@tensorflow/tfjs-core';
import { FaeError, initBackend, parseShard } from '@fae/core';
import { evaluateImages, computeStatistics, loadFidInception, type EvalProgress } from '../evaluate.js';
import { FidInceptionV3 } from '../inception/inception-v3.js';
import { proceduralStore } from '../procedural-weights.js';
import { frechetDistanceDetails } from '../fid/frechet.js';
import { loadStatisticsFile, mergeStatisticsFiles, saveStatisticsFile } from '../fid/statistics-file.js';
import { openImageSource } from './image-batches.js';
import { finishedShard, mergeStatisticsShardFolder, optionsHash, statisticsShardName } from './stats-shards.js';

const USAGE = `usage:
  fae-eval eval  <images-dir|samples.npz> --ref <stats.npz> --weights <inception> [--save-stats <s.npz>] [--features]
  fae-eval stats <images-dir|samples.npz> --weights <inception> --out <stats.npz> [--features]
  fae-eval stats <images-dir|samples.npz> --weights <inception> --shard i/n|auto --out <dir> [--features]
  fae-eval fid   <a.npz> <b.npz>
  fae-eval merge <out.npz> <part.npz> [<part.npz> ...]
  fae-eval merge <out.npz> --shards <dir>      (every stats-i-of-n.npz of dir; refuses incomplete or mixed sets)
options: --backend cpu|wasm|webgpu|auto (default wasm)  --batch N (default 16)  --limit N  --no-spatial  --quiet
         --k N (precision/recall neighbourhood, default 3)  --splits N (Inception Score splits, default 10)
         --fast-stats (covariance products as float32 matMuls on the backend instead of float64 JS)`;

interface Args {
  cmd: string;
  pos: string[];
  flags: Map<string, string | true>;
}

function parseArgs(argv: string[]): Args {
  const [cmd = '', ...rest] = argv;
  const pos: string[] = [];
  const flags = new Map<string, string | true>();
  const valued = new Set(['--ref', '--weights', '--save-stats', '--out', '--backend', '--batch', '--limit', '--k', '--splits', '--shard', '--shards']);
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    if (valued.has(a)) flags.set(a, rest[++i] ?? '');
    else if (a.startsWith('--')) flags.set(a, true);
    else pos.push(a);
  }
  return { cmd, pos, flags };
}

async function loadModel(weights: string | true | undefined): Promise<FidInceptionV3> {
  if (typeof weights !== 'string' || !weights) throw new Error('--weights <inception weights> is required');
  if (/\.json$/i.test(weights)) {
    const { readFile } = await import('node:fs/promises');
    const model = new FidInceptionV3();
    await model.loadWeights(proceduralStore(JSON.parse(await readFile(weights, 'utf8')), weights));
    return model;
  }
  return loadFidInception(weights);
}

function progressPrinter(quiet: boolean): (p: EvalProgress) => void {
  let last = 0;
  return (p) => {
    if (quiet) return;
    const now = Date.now();
    if (p.done < p.total && now - last < 1000) return;
    last = now;
    process.stderr.write(`[fae-eval] ${p.done}/${p.total} images, ${p.imagesPerSecond.toFixed(2)} img/s\n`);
  };
}

const num = (v: string | true | undefined, d: number) => (typeof v === 'string' && v ? Number(v) : d);

async function main(argv: string[]): Promise<number> {
  const { cmd, pos, flags } = parseArgs(argv);
  const quiet = flags.has('--quiet');
  const print = (o: unknown) => process.stdout.write(`${JSON.stringify(o, null, 2)}\n`);
  if (cmd === 'fid') {
    if (pos.length !== 2) throw new Error(USAGE);
    // one after the other: a missing or bad file is reported in argument order, not by whichever read lost a race
    const a = await loadStatisticsFile(pos[0]);
    const b = await loadStatisticsFile(pos[1]);
    const d = frechetDistanceDetails(a.pool, b.pool);
    const out: Record<string, number> = { fid: d.distance, dim: a.pool.mu.length, rank: d.rank, fid_ms: d.ms };
    if (a.spatial && b.spatial) out.sfid = frechetDistanceDetails(a.spatial, b.spatial).distance;
    print(out);
    return 0;
  }
  if (cmd === 'merge' && typeof flags.get('--shards') === 'string') {
    if (pos.length !== 1) throw new Error(USAGE);
    const { merged, shards, total } = await mergeStatisticsShardFolder(flags.get('--shards') as string);
    await saveStatisticsFile(pos[0], merged);
    print({ out: pos[0], count: merged.pool.count, total, shards, spatial: !!merged.spatial });
    return 0;
  }
  if (cmd === 'merge') {
    if (pos.length < 2) throw new Error(USAGE);
    const [outPath, ...parts] = pos;
    const merged = mergeStatisticsFiles(await Promise.all(parts.map((p) => loadStatisticsFile(p))));
    await saveStatisticsFile(outPath, merged);
    print({ out: outPath, count: merged.pool.count, parts: parts.length, spatial: !!merged.spatial });
    return 0;
  }
  if (cmd !== 'eval' && cmd !== 'stats') throw new Error(USAGE);
  if (pos.length !== 1) throw new Error(USAGE);
  const batchSize = num(flags.get('--batch'), 16);
  const spatial = !flags.has('--no-spatial');
  const gram = flags.has('--fast-stats') ? 'backend' : 'float64';
  const limit = flags.has('--limit') ? num(flags.get('--limit'), Infinity) : undefined;
  const shardSpec = flags.get('--shard');
  if (shardSpec !== undefined && cmd !== 'stats') throw new Error('--shard is for fae-eval stats (evaluate the merged statistics with fid)');
  const shard = typeof shardSpec === 'string' ? parseShard(shardSpec) : undefined;
  // what every shard must share (the images themselves are checked by their total)
  const weights = flags.get('--weights');
  const options = optionsHash({ weights: typeof weights === 'string' ? weights.split(/[\\/]/).pop() : null, limit: limit ?? null, batchSize, spatial, gram, features: flags.has('--features') });
  let shardPath: string | undefined;
  if (shard) {
    const out = flags.get('--out');
    if (typeof out !== 'string') throw new Error('--out <dir> is required (the folder of the shard files)');
    const { mkdir } = await import('node:fs/promises');
    const { join } = await import('node:path');
    await mkdir(out, { recursive: true });
    shardPath = join(out, statisticsShardName(shard));
    const done = await finishedShard(shardPath);
    if (done && done.index === shard.index && done.count === shard.count && done.options === options) {
      print({ out: shardPath, shard, range: [done.start, done.end], total: done.total, skipped: true });
      return 0;
    }
  }
  const info = await initBackend(String(flags.get('--backend') ?? 'wasm'));
  if (!quiet) process.stderr.write(`[fae-eval] backend ${info.backend}${info.adapter ? ` (${info.adapter})` : ''}\n`);
  const source = await openImageSource(pos[0], { limit, shard: shard ? { ...shard, align: batchSize } : undefined });
  const model = await loadModel(flags.get('--weights'));
  try {
    if (cmd === 'stats') {
      const outPath = shardPath ?? flags.get('--out');
      if (typeof outPath !== 'string') throw new Error('--out <stats.npz> is required');
      const stats = await computeStatistics(model, source, { batchSize, spatial, gram, keepFeatures: flags.has('--features'), onProgress: progressPrinter(quiet) });
      const [start, end] = source.range!;
      if (shard) stats.shard = { ...shard, start, end, total: source.total!, options };
      await saveStatisticsFile(outPath, stats);
      print({ out: outPath, count: stats.pool.count, dim: stats.pool.mu.length, spatial: !!stats.spatial, backend: tf.getBackend(), ...(shard ? { shard, range: [start, end], total: source.total, skipped: false } : {}) });
      return 0;
    }
    const refPath = flags.get('--ref');
    const reference = typeof refPath === 'string' ? await loadStatisticsFile(refPath) : undefined;
    // precision / recall run when the reference file holds pool3 activations (`stats --features`)
    const { report, statistics } = await evaluateImages(model, source, {
      batchSize, spatial, gram, reference, keepFeatures: flags.has('--features') || !!reference?.activations, onProgress: progressPrinter(quiet),
      prK: num(flags.get('--k'), 3), isSplits: num(flags.get('--splits'), 10),
    });
    const save = flags.get('--save-stats');
    if (typeof save === 'string') await saveStatisticsFile(save, statistics);
    print(report);
    return 0;
  } finally {
    model.dispose();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`${e instanceof FaeError ? `${e.name}: ` : ''}${(e as Error).message}\n`);
    process.exit(1);
  },
);

// `fae shard sample|cache|stats|merge` and `fae launch`: per-item work split over processes, GPUs or
// cluster tasks (--shard i/n | auto), merged exactly afterwards (see @fae/pipeline's shards.ts).
//
//   fae shard sample --models m --count 50000 [--generator dit] [--steps k] [--cfg g] [--batch b] --shard i/n --out dir
//   fae shard cache  --models m --data d [--images N] [--latents] [--keep-images] [--batch b] --shard i/n --out dir
//   fae shard stats  --models m --data d [--images N] [--batch b] --shard i/n --out dir
//   fae shard merge  samples|cache|stats --out dir
//   fae launch --gpus N [--dry-run] -- <fae arguments>      (one process per GPU, each with --shard i/N)
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { mkdir } from 'node:fs/promises';
import { ConfigError, encodePng, initBackend, openSafetensorsFile, writeFileAtomic } from '@fae/core';
import { FaePipeline, cacheShard, mergeCacheShards, mergeSampleShards, mergeStatisticsShards, openDataset, parseShard, sampleShard, statisticsShard, type ShardRunResult } from '@fae/pipeline';
import { parseInteger, parseNumber } from '../args.js';
import { UsageError } from '../errors.js';
import type { MainIO } from '../main.js';
import { ProgressBar } from '../progress.js';
import { planGpus, type GpuPlan } from './gpu-select.js';

export const SHARD_HELP = `fae shard <sample|cache|stats|merge> ... --shard i/n|auto|auto/n --out dir
  sample  --models m --count N [--generator g] [--steps k] [--cfg g] [--sampler s] [--batch b] [--seed s]
          class-balanced labels (item k has class k mod classes), seed per item: shards == unsharded run
  cache   --models m --data d [--images N] [--latents] [--keep-images] [--batch b]   encoder features (or latents)
  stats   --models m --data d [--images N] [--batch b]    float64 statistics of mean-pooled encoder features
  merge   samples|cache|stats --out dir [--png]           (--png: samples also as png/<index>-c<label>.png); refuses missing / unfinished / mismatched shards
  A finished shard (its manifest <kind>-i-of-n.json exists with the same options) is skipped on rerun.
  --shard auto reads JOB_COMPLETION_INDEX (Kubernetes), SLURM_ARRAY_TASK_ID or FAE_SHARD_INDEX; the count
  from auto/n, FAE_SHARD_COUNT or SLURM_ARRAY_TASK_COUNT.
fae launch --gpus N [--dry-run] -- <fae command and options>
  runs N processes of the command on this host, process i with --shard i/N and GPU i (PCI bus order) selected
  for Vulkan/Dawn by DRI_PRIME=pci-DDDD_BB_DD_F! (Mesa's device-select layer), plus FAE_GPU_INDEX,
  CUDA_VISIBLE_DEVICES (CUDA_DEVICE_ORDER=PCI_BUS_ID); FAE_GPU_PCI=addr,... overrides the PCI listing,
  FAE_VK_DEVICES=vendor:device,... adds MESA_VK_DEVICE_SELECT / VK_LOADER_DEVICE_SELECT per process.
  --dry-run prints the plan (GPUs, layer, warnings, argv and env per process); exits non-zero if any process failed.`;

const SHARD_OPTIONS = {
  models: { type: 'string' }, data: { type: 'string' }, out: { type: 'string' }, shard: { type: 'string' }, count: { type: 'string' },
  generator: { type: 'string' }, steps: { type: 'string' }, cfg: { type: 'string' }, sampler: { type: 'string' }, batch: { type: 'string' },
  seed: { type: 'string', default: '0' }, images: { type: 'string' }, latents: { type: 'boolean' }, 'keep-images': { type: 'boolean' },
  png: { type: 'boolean' }, backend: { type: 'string', default: 'wasm' }, threads: { type: 'string', default: '1' }, quiet: { type: 'boolean' },
} as const;

export async function runShardCommand(argv: string[], io: MainIO): Promise<void> {
  const sub = argv[0];
  if (!sub || sub === '--help' || sub === '-h') return void io.stdout(`${SHARD_HELP}\n`);
  let v: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    const r = parseArgs({ args: argv.slice(1), options: SHARD_OPTIONS, allowPositionals: true, strict: true });
    v = r.values as typeof v;
    positionals = r.positionals;
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/\. To specify a positional argument.*$/s, ''), 'shard');
  }
  const need = (k: string) => {
    if (typeof v[k] !== 'string') throw new UsageError(`fae shard ${sub} needs --${k}`, 'shard');
    return v[k] as string;
  };
  const out = resolve(need('out'));
  const print = (x: unknown) => io.stdout(`${JSON.stringify(x, null, 2)}\n`);
  if (sub === 'merge') {
    const kind = positionals[0];
    const t0 = Date.now();
    if (kind === 'samples') {
      const index = await mergeSampleShards(out);
      const pngs = v.png ? await writeSamplePngs(out) : undefined;
      return print({ merged: 'samples', ...index, pngs, seconds: (Date.now() - t0) / 1000 });
    }
    if (kind === 'cache') {
      const c = await mergeCacheShards(out);
      return print({ merged: 'cache', dir: out, count: c.count, seconds: (Date.now() - t0) / 1000 });
    }
    if (kind === 'stats') {
      const s = await mergeStatisticsShards(out);
      return print({ merged: 'stats', file: resolve(out, 'stats.npz'), count: s.pool.count, dim: s.pool.mu.length, seconds: (Date.now() - t0) / 1000 });
    }
    throw new UsageError(`fae shard merge expects samples, cache or stats, got '${kind ?? ''}'`, 'shard');
  }
  if (!['sample', 'cache', 'stats'].includes(sub)) throw new UsageError(`unknown shard command '${sub}' (sample, cache, stats, merge)`, 'shard');
  let shard;
  try {
    shard = parseShard(need('shard'));
  } catch (e) {
    throw new UsageError((e as Error).message, 'shard');
  }
  const int = (k: string, min = 1) => (typeof v[k] === 'string' ? parseInteger(v[k] as string, k, 'shard', min) : undefined);
  const info = await initBackend(String(v.backend) as never, { wasmThreads: int('threads') ?? 1 });
  const models = need('models');
  const pipe = await FaePipeline.load(models);
  let bar: ProgressBar | null = null;
  const onProgress = (done: number, total: number) => {
    bar ??= new ProgressBar(`${sub} shard ${shard.index}/${shard.count}`, Math.max(1, total), { silent: !!v.quiet });
    bar.update(done);
  };
  const t0 = Date.now();
  let r: ShardRunResult;
  try {
    const meta = { models };
    if (sub === 'sample') {
      r = await sampleShard(pipe, out, {
        shard, total: int('count') ?? (need('count') as never), generator: v.generator as string | undefined, steps: int('steps'), sampler: v.sampler as string | undefined,
        guidance: typeof v.cfg === 'string' ? parseNumber(v.cfg, 'cfg', 'shard') : undefined, batchSize: int('batch'), seed: int('seed', 0), meta, onProgress,
      });
    } else {
      const dataset = await openDataset(need('data'));
      const common = { shard, maxItems: int('images'), batchSize: int('batch'), meta, onProgress };
      r = sub === 'cache'
        ? await cacheShard(pipe, dataset, out, { ...common, what: v.latents ? 'latents' : 'features', keepImages: !!v['keep-images'] })
        : await statisticsShard(pipe, dataset, out, common);
    }
  } finally {
    (bar as ProgressBar | null)?.done();
    pipe.dispose();
  }
  const items = r.manifest.range[1] - r.manifest.range[0];
  const seconds = (Date.now() - t0) / 1000;
  print({ command: `fae shard ${argv.join(' ')}`, backend: info.backend, kind: r.manifest.kind, shard, range: r.manifest.range, items, skipped: r.skipped, seconds, itemsPerSecond: r.skipped ? null : items / r.manifest.seconds });
}

/** The merged samples as one PNG per item: <dir>/png/<index>-c<label>.png (atomic writes). */
async function writeSamplePngs(dir: string): Promise<string> {
  const store = await openSafetensorsFile(resolve(dir, 'samples.safetensors'));
  try {
    const info = store.info('images')!;
    const [n, h, w, c] = info.shape;
    const images = (await store.read('images')) as Uint8Array;
    const labels = (await store.read('labels')) as Int32Array;
    const indices = (await store.read('indices')) as Int32Array;
    const folder = resolve(dir, 'png');
    await mkdir(folder, { recursive: true });
    for (let k = 0; k < n; k++) {
      const png = encodePng({ width: w, height: h, channels: c as 3, data: images.slice(k * h * w * c, (k + 1) * h * w * c) });
      await writeFileAtomic(resolve(folder, `${String(indices[k]).padStart(6, '0')}-c${labels[k]}.png`), [png]);
    }
    return folder;
  } finally {
    await store.close();
  }
}

export async function runLaunchCommand(argv: string[], io: MainIO): Promise<void> {
  const dash = argv.indexOf('--');
  if (dash < 0 || dash === argv.length - 1) throw new UsageError('fae launch --gpus N [--dry-run] -- <fae command and options>', 'launch');
  const own = argv.slice(0, dash);
  const cmd = argv.slice(dash + 1);
  const gi = own.indexOf('--gpus');
  if (gi < 0 || own[gi + 1] === undefined) throw new UsageError('fae launch needs --gpus N', 'launch');
  const n = parseInteger(own[gi + 1], 'gpus', 'launch', 1, 1024);
  const dry = own.includes('--dry-run');
  if (cmd.some((a) => a === '--shard' || a.startsWith('--shard='))) throw new UsageError('fae launch passes --shard i/N itself; leave it out of the command', 'launch');
  const bin = fileURLToPath(new URL('../../bin/fae.mjs', import.meta.url));
  let gpu: GpuPlan;
  try {
    gpu = planGpus(n);
  } catch (e) {
    throw new UsageError((e as Error).message, 'launch');
  }
  const plans = Array.from({ length: n }, (_, i) => ({ args: [...cmd, '--shard', `${i}/${n}`], env: gpu.env(i) }));
  if (dry) return void io.stdout(`${JSON.stringify({ gpus: gpu.gpus.map((g) => g.pci), deviceSelectLayer: gpu.layer, warnings: gpu.warnings, launch: plans.map((p) => ({ argv: ['fae', ...p.args], env: p.env })) }, null, 2)}\n`);
  for (const w of gpu.warnings) io.stderr(`[launch] warning: ${w}\n`);
  const t0 = Date.now();
  const results = await Promise.all(plans.map((p, i) => new Promise<{ shard: number; code: number; stdout: string }>((done) => {
    const child = spawn(process.execPath, [bin, ...p.args], { env: { ...process.env, ...p.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => io.stderr(String(d).split('\n').filter(Boolean).map((l) => `[${i}/${n}] ${l}\n`).join('')));
    child.on('error', (e) => done({ shard: i, code: 1, stdout: String(e) }));
    child.on('close', (code) => done({ shard: i, code: code ?? 1, stdout }));
  })));
  const parse = (s: string) => {
    try {
      return JSON.parse(s);
    } catch {
      return s.trim();
    }
  };
  const failed = results.filter((r) => r.code !== 0).map((r) => r.shard);
  io.stdout(`${JSON.stringify({ launched: n, failed, seconds: (Date.now() - t0) / 1000, results: results.map((r) => ({ shard: r.shard, code: r.code, output: parse(r.stdout) })) }, null, 2)}\n`);
  if (failed.length) throw new ConfigError('fae launch', `${failed.length} of ${n} processes failed (shards ${failed.join(', ')}); rerun the same launch: finished shards are skipped`);
}

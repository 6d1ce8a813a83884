// Sharded sampling, caching and statistics with several real `fae` processes (the shipped digits
// checkpoints, wasm): merged shards equal the unsharded run bit for bit (statistics: to float64 rounding),
// finished shards are skipped, a crashed shard reruns alone, merges refuse incomplete or mismatched shards.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { openSafetensorsFile } from '@fae/core';
import { loadStatisticsFile } from '@fae/eval';

const BIN = fileURLToPath(new URL('../bin/fae.mjs', import.meta.url));
const MODELS = fileURLToPath(new URL('../checkpoints', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'fae-shards-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function fae(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((done) => {
    execFile(process.execPath, [BIN, ...args, '--quiet'], { env: { ...process.env, ...env }, maxBuffer: 1 << 24 }, (err, stdout, stderr) => {
      done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

async function ok(args: string[], env?: Record<string, string>) {
  const r = await fae(args, env);
  if (r.code !== 0) throw new Error(`fae ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** Every shard of a job as its own process, all at once. */
const allShards = (n: number, args: (shard: string) => string[]) => Promise.all(Array.from({ length: n }, (_, i) => ok(args(`${i}/${n}`))));

async function tensors(file: string, keys: string[]): Promise<Record<string, Uint8Array>> {
  const store = await openSafetensorsFile(file);
  try {
    const out: Record<string, Uint8Array> = {};
    for (const k of keys) {
      const t = await store.read(k);
      out[k] = new Uint8Array(t.buffer, t.byteOffset, t.byteLength).slice();
    }
    return out;
  } finally {
    await store.close();
  }
}

const sample = (out: string, shard: string, extra: string[] = []) => ['shard', 'sample', '--models', MODELS, '--count', '7', '--steps', '3', '--seed', '5', ...extra, '--shard', shard, '--out', out];

describe('fae shard sample', () => {
  it('3 processes give the very samples of 1 process (per-item seeds), skip finished shards, rerun a crashed one alone', async () => {
    const one = join(root, 's1');
    const three = join(root, 's3');
    await allShards(1, (s) => sample(one, s));
    const runs = await allShards(3, (s) => sample(three, s));
    expect(runs.map((r) => r.range)).toEqual([[0, 2], [2, 4], [4, 7]]);
    await ok(['shard', 'merge', 'samples', '--out', one]);
    await ok(['shard', 'merge', 'samples', '--out', three, '--png']);
    const keys = ['images', 'latents', 'labels', 'indices'];
    const a = await tensors(join(one, 'samples.safetensors'), keys);
    const b = await tensors(join(three, 'samples.safetensors'), keys);
    for (const k of keys) expect(Buffer.compare(Buffer.from(a[k]), Buffer.from(b[k])), k).toBe(0);
    expect(Array.from(new Int32Array(a.labels.buffer))).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(a.images.length).toBe(7 * 28 * 28 * 3);
    // per-item seeds: different items differ
    expect(Buffer.compare(Buffer.from(a.images.subarray(0, 2352)), Buffer.from(a.images.subarray(2352 * 1, 2352 * 2)))).not.toBe(0);
    // rerun: every shard skipped
    const again = await allShards(3, (s) => sample(three, s));
    expect(again.map((r) => r.skipped)).toEqual([true, true, true]);
    // "crash" of shard 1 (no manifest): merge refuses, then only shard 1 reruns
    unlinkSync(join(three, 'samples-00001-of-00003.json'));
    const refused = await fae(['shard', 'merge', 'samples', '--out', three]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/ShardMergeError: .*incomplete: 1 of 3 shards .*indices 1/);
    const rerun = await allShards(3, (s) => sample(three, s));
    expect(rerun.map((r) => r.skipped)).toEqual([true, false, true]);
    await ok(['shard', 'merge', 'samples', '--out', three]);
    const c = await tensors(join(three, 'samples.safetensors'), ['images']);
    expect(Buffer.compare(Buffer.from(a.images), Buffer.from(c.images))).toBe(0);
    expect(readFileSync(join(three, 'png', '000006-c6.png')).subarray(1, 4).toString()).toBe('PNG');
    // a shard whose data file is gone (manifest left) is not taken as finished: it reruns alone
    unlinkSync(join(three, 'samples-00002-of-00003.safetensors'));
    const lost = await allShards(3, (s) => sample(three, s));
    expect(lost.map((r) => r.skipped)).toEqual([true, true, false]);
  }, 120_000);

  it('batched sampling (--batch 2) matches across shard counts; a shard with other options is refused at merge', async () => {
    const one = join(root, 'b1');
    const two = join(root, 'b2');
    await allShards(1, (s) => sample(one, s, ['--batch', '2']));
    const runs = await allShards(2, (s) => sample(two, s, ['--batch', '2']));
    expect(runs.map((r) => r.range)).toEqual([[0, 4], [4, 7]]); // whole batches per shard
    await ok(['shard', 'merge', 'samples', '--out', one]);
    await ok(['shard', 'merge', 'samples', '--out', two]);
    const a = await tensors(join(one, 'samples.safetensors'), ['latents']);
    const b = await tensors(join(two, 'samples.safetensors'), ['latents']);
    expect(Buffer.compare(Buffer.from(a.latents), Buffer.from(b.latents))).toBe(0);
    // shard 1 redone with another step count: the merge names the mismatch
    unlinkSync(join(two, 'samples-00001-of-00002.json'));
    await ok(['shard', 'sample', '--models', MODELS, '--count', '7', '--steps', '2', '--seed', '5', '--batch', '2', '--shard', '1/2', '--out', two]);
    const r = await fae(['shard', 'merge', 'samples', '--out', two]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ShardMergeError: .*other options/);
  }, 120_000);
});

const data = ['--models', MODELS, '--data', 'mnist:heldOut', '--images', '44', '--batch', '8'];

describe('fae shard cache / stats', () => {
  it('3 cache processes merge into a cache equal to the unsharded one, bit for bit', async () => {
    const one = join(root, 'c1');
    const three = join(root, 'c3');
    await allShards(1, (s) => ['shard', 'cache', ...data, '--shard', s, '--out', one]);
    await allShards(3, (s) => ['shard', 'cache', ...data, '--shard', s, '--out', three]);
    const m1 = await ok(['shard', 'merge', 'cache', '--out', one]);
    const m3 = await ok(['shard', 'merge', 'cache', '--out', three]);
    expect(m1.count).toBe(44);
    expect(m3.count).toBe(44);
    const read = async (dir: string) => {
      const idx = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { shards: Array<{ file: string }> };
      const parts = await Promise.all(idx.shards.map((s) => tensors(join(dir, s.file), ['features', 'labels'])));
      return { features: Buffer.concat(parts.map((p) => p.features)), labels: Buffer.concat(parts.map((p) => p.labels)) };
    };
    const a = await read(one);
    const b = await read(three);
    expect(a.features.length).toBe(44 * 7 * 7 * 64 * 4);
    expect(Buffer.compare(a.features, b.features)).toBe(0);
    expect(Buffer.compare(a.labels, b.labels)).toBe(0);
  }, 120_000);

  it('2 statistics processes merge to the unsharded statistics (float64 rounding); mismatched counts are refused', async () => {
    const one = join(root, 't1');
    const two = join(root, 't2');
    await allShards(1, (s) => ['shard', 'stats', ...data, '--shard', s, '--out', one]);
    await allShards(2, (s) => ['shard', 'stats', ...data, '--shard', s, '--out', two]);
    await ok(['shard', 'merge', 'stats', '--out', one]);
    const merged = await ok(['shard', 'merge', 'stats', '--out', two]);
    expect(merged.count).toBe(44);
    const a = await loadStatisticsFile(join(one, 'stats.npz'));
    const b = await loadStatisticsFile(join(two, 'stats.npz'));
    expect(b.pool.count).toBe(44);
    const scale = Math.max(...Array.from(a.pool.sigma, Math.abs));
    for (let j = 0; j < a.pool.mu.length; j++) expect(Math.abs(a.pool.mu[j] - b.pool.mu[j])).toBeLessThan(1e-12 * (1 + Math.abs(a.pool.mu[j])));
    let worst = 0;
    for (let j = 0; j < a.pool.sigma.length; j++) worst = Math.max(worst, Math.abs(a.pool.sigma[j] - b.pool.sigma[j]));
    expect(worst / scale).toBeLessThan(1e-12);
    expect(scale).toBeGreaterThan(0);
    // a stray shard of a 3-way split in the same folder: refused
    writeFileSync(join(two, 'stats-00000-of-00003.json'), readFileSync(join(two, 'stats-00000-of-00002.json'), 'utf8').replace('"count": 2', '"count": 3'));
    const r = await fae(['shard', 'merge', 'stats', '--out', two]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ShardMergeError: .*different counts/);
  }, 120_000);
});

describe('fae launch', () => {
  it('runs one process per "GPU" with --shard i/N and GPU i selected, and the merge matches one process', async () => {
    const plan = await ok(['launch', '--gpus', '2', '--dry-run', '--', ...sample(join(root, 'x'), 'x').slice(0, -4)]);
    expect(plan.launch.map((p: { argv: string[] }) => p.argv.slice(-2))).toEqual([['--shard', '0/2'], ['--shard', '1/2']]);
    expect(plan.launch.map((p: { env: Record<string, string> }) => [p.env.CUDA_VISIBLE_DEVICES, p.env.FAE_GPU_INDEX])).toEqual([['0', '0'], ['1', '1']]);
    // GPU i for Vulkan/Dawn: the device-select layer's DRI_PRIME tag of the i-th PCI address
    const pinned = await ok(['launch', '--gpus', '2', '--dry-run', '--', ...sample(join(root, 'x'), 'x').slice(0, -4)], { FAE_GPU_PCI: '0000:18:00.0,0000:2a:00.0' });
    expect(pinned.gpus).toEqual(['0000:18:00.0', '0000:2a:00.0']);
    expect(pinned.launch.map((p: { env: Record<string, string> }) => p.env.DRI_PRIME)).toEqual(['pci-0000_18_00_0!', 'pci-0000_2a_00_0!']);
    const out = join(root, 'l2');
    const r = await ok(['launch', '--gpus', '2', '--', 'shard', 'sample', '--models', MODELS, '--count', '7', '--steps', '3', '--seed', '5', '--out', out]);
    expect(r.failed).toEqual([]);
    expect(r.results.map((x: { output: { range: number[] } }) => x.output.range)).toEqual([[0, 3], [3, 7]]);
    await ok(['shard', 'merge', 'samples', '--out', out]);
    const ref = join(root, 'l1');
    await ok(sample(ref, '0/1'));
    await ok(['shard', 'merge', 'samples', '--out', ref]);
    const a = await tensors(join(ref, 'samples.safetensors'), ['images']);
    const b = await tensors(join(out, 'samples.safetensors'), ['images']);
    expect(Buffer.compare(Buffer.from(a.images), Buffer.from(b.images))).toBe(0);
    const failed = await fae(['launch', '--gpus', '2', '--', 'shard', 'sample', '--models', join(root, 'missing'), '--count', '4', '--out', join(root, 'lf')]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/2 of 2 processes failed \(shards 0, 1\)/);
  }, 120_000);

  it('--shard auto reads the Kubernetes and Slurm indices', async () => {
    const out = join(root, 'auto');
    const k = await ok(sample(out, 'auto/3'), { JOB_COMPLETION_INDEX: '2' });
    expect(k.shard).toEqual({ index: 2, count: 3 });
    const s = await ok(sample(out, 'auto'), { SLURM_ARRAY_TASK_ID: '1', SLURM_ARRAY_TASK_COUNT: '3' });
    expect(s.shard).toEqual({ index: 1, count: 3 });
    const bad = await fae(sample(out, 'auto'));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--shard: auto needs/);
  }, 60_000);
});

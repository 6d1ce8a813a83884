import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '@fae/core';
import { ShardMergeError, classBalancedLabels, itemSeed, parseShard, readShardManifests, shardRange, shardStem, type ShardManifest } from '../src/shards.js';

const root = mkdtempSync(join(tmpdir(), 'fae-shard-unit-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('parseShard', () => {
  it('reads i/n and the cluster indices', () => {
    expect(parseShard('3/8', {})).toEqual({ index: 3, count: 8 });
    expect(parseShard('auto/4', { JOB_COMPLETION_INDEX: '2' })).toEqual({ index: 2, count: 4 });
    expect(parseShard('auto', { SLURM_ARRAY_TASK_ID: '11', SLURM_ARRAY_TASK_MIN: '10', SLURM_ARRAY_TASK_COUNT: '5' })).toEqual({ index: 1, count: 5 });
    expect(parseShard('auto', { FAE_SHARD_INDEX: '0', FAE_SHARD_COUNT: '2' })).toEqual({ index: 0, count: 2 });
  });
  it('refuses bad specs with a ConfigError naming --shard', () => {
    for (const s of ['8/8', '1', '-1/2', 'a/b', '1/0']) expect(() => parseShard(s, {}), s).toThrow(ConfigError);
    expect(() => parseShard('auto', {})).toThrow(/--shard: auto needs JOB_COMPLETION_INDEX/);
    expect(() => parseShard('auto', { JOB_COMPLETION_INDEX: '1' })).toThrow(/shard count/);
    expect(() => parseShard('auto/2', { JOB_COMPLETION_INDEX: '2' })).toThrow(ConfigError);
  });
});

describe('shardRange', () => {
  it('tiles 0..total-1 in contiguous blocks of whole units, sizes within one unit', () => {
    for (const [total, n, align] of [[7, 3, 1], [50_000, 8, 32], [5, 8, 1], [44, 3, 8], [0, 2, 4], [100, 1, 7]]) {
      let at = 0;
      const sizes: number[] = [];
      for (let i = 0; i < n; i++) {
        const [a, b] = shardRange(total, { index: i, count: n }, align);
        expect(a).toBe(at);
        if (b < total) expect(b % align).toBe(0);
        sizes.push(b - a);
        at = b;
      }
      expect(at).toBe(total);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(align);
    }
  });
});

describe('labels and seeds', () => {
  it('class-balanced labels and deterministic, distinct per-item seeds', () => {
    const l = classBalancedLabels(10, 4);
    expect(Array.from(l)).toEqual([0, 1, 2, 3, 0, 1, 2, 3, 0, 1]);
    const seeds = Array.from({ length: 50_000 }, (_, i) => itemSeed(7, i));
    expect(new Set(seeds).size).toBeGreaterThan(49_990);
    expect(seeds.every((s) => Number.isInteger(s) && s >= 0 && s < 2 ** 31)).toBe(true);
    expect(itemSeed(7, 123)).toBe(seeds[123]);
    expect(itemSeed(8, 123)).not.toBe(seeds[123]);
  });
});

describe('readShardManifests', () => {
  const manifest = (i: number, n: number, range: [number, number], meta: Record<string, unknown> = { a: 1 }): ShardManifest => ({
    format: 'fae-shard', version: 1, kind: 'samples', shard: { index: i, count: n }, total: 10, range, meta, data: `${shardStem('samples', { index: i, count: n })}.safetensors`, seconds: 0,
  });
  const put = (dir: string, m: ShardManifest) => writeFileSync(join(dir, `${shardStem('samples', m.shard)}.json`), JSON.stringify(m));

  it('returns complete shard sets in order and refuses incomplete, mismatched or overlapping ones', async () => {
    const dir = mkdtempSync(join(root, 'm-'));
    await expect(readShardManifests(dir, 'samples')).rejects.toThrow(ShardMergeError);
    put(dir, manifest(1, 2, [5, 10]));
    await expect(readShardManifests(dir, 'samples')).rejects.toThrow(/incomplete: 1 of 2 shards .*indices 0/);
    put(dir, manifest(0, 2, [0, 5]));
    expect((await readShardManifests(dir, 'samples')).map((m) => m.shard.index)).toEqual([0, 1]);
    put(dir, manifest(0, 2, [0, 4]));
    await expect(readShardManifests(dir, 'samples')).rejects.toThrow(/covers items \[5,10\] but the previous shard ended at 4/);
    put(dir, manifest(0, 2, [0, 5], { a: 2 }));
    const e = await readShardManifests(dir, 'samples').catch((x) => x);
    expect(e).toBeInstanceOf(ShardMergeError);
    expect(e.code).toBe('SHARD_MERGE');
    expect(e.message).toMatch(/other options/);
  });
});

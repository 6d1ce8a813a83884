// buildCache: sharded files with an index, streamed back batch by batch by FeatureCache; an
// interrupted build resumes after its last full shard and gives the same cache; a finished cache
// with the same meta is reused, one with other meta rebuilt.
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '@fae/testing';
import { buildCache, type CacheRows } from '@fae/pipeline';

const tmp = mkdtempSync(join(tmpdir(), 'fae-pipeline-cache-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** 23 rows of features [2, 2, 3] whose values encode the row index; batches of 5. */
function source(failAfterRows = Infinity, skips: number[] = []) {
  return (skip: number) => (async function* (): AsyncGenerator<CacheRows> {
    skips.push(skip);
    for (let start = skip; start < 23; start += 5) {
      if (start >= failAfterRows) throw new Error('interrupted');
      const n = Math.min(5, 23 - start);
      const rows = Array.from({ length: n }, (_, i) => start + i);
      yield { features: tf.tensor4d(rows.flatMap((r) => Array(12).fill(r)), [n, 2, 2, 3]), labels: rows.map((r) => r % 4), images: tf.fill([n, 4, 4, 3], 0.5) };
    }
  })();
}

describe('buildCache', () => {
  beforeAll(() => tf.setBackend('cpu'));
  const opts = { shardSize: 8, dtype: 'F32' as const, meta: { what: 'test' }, total: 23 };

  it('writes shards and an index; FeatureCache streams them back', async () => {
    const cache = await buildCache(join(tmp, 'a'), source(), opts);
    expect(cache.index.shards.map((s) => s.count)).toEqual([8, 8, 7]);
    expect(cache.count).toBe(23);
    const rows: number[] = [];
    for await (const b of cache.batches({ batchSize: 10 })) {
      const f = await b.features.data();
      for (let i = 0; i < b.features.shape[0]; i++) rows.push(f[i * 12]);
      expect(Array.from(await b.labels!.data())).toEqual(Array.from(f.filter((_, k) => k % 12 === 0), (r) => r % 4));
      tf.dispose([b.features, b.labels!, b.images!]);
    }
    expect(rows).toEqual([...Array(23).keys()]);
  });

  it('resumes after the last full shard and reuses a finished cache; other meta rebuilds', async () => {
    const dir = join(tmp, 'b');
    await expect(buildCache(dir, source(15), opts)).rejects.toThrow('interrupted');
    expect(JSON.parse(readFileSync(join(dir, 'progress.json'), 'utf8')).done).toBe(8);
    expect(existsSync(join(dir, 'index.json'))).toBe(false);
    const skips: number[] = [];
    const cache = await buildCache(dir, source(Infinity, skips), opts);
    expect(skips).toEqual([8]);
    expect(cache.count).toBe(23);
    expect(readFileSync(join(dir, 'shard-00001.safetensors'))).toEqual(readFileSync(join(tmp, 'a', 'shard-00001.safetensors')));
    const again: number[] = [];
    await buildCache(dir, source(Infinity, again), opts);
    expect(again).toEqual([]); // reused
    const other: number[] = [];
    await buildCache(dir, source(Infinity, other), { ...opts, meta: { what: 'other' } });
    expect(other).toEqual([0]);
  });
});

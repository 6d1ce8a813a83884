// Sharded statistics for fae-eval: `stats <images> --shard i/n --out <dir>` writes the statistics of
// its block of images (@fae/core's shardRange, aligned to the batch size) to <dir>/stats-i-of-n.npz
// with a `shard` entry (index, count, start, end, total, options hash); `merge <out.npz> --shards <dir>`
// checks that the shards are complete, of one split and one set of options, and tile the images, then
// merges them in order (Chan et al.'s exact pairwise update: the unsharded mean and covariance up to
// float64 rounding; counts and pool3 activations exactly). A finished shard is skipped on rerun (files
// are written atomically, so one that exists is complete); a crashed shard reruns alone.
import { ConfigError, type ShardSpec } from '@fae/core';
import { loadStatisticsFile, mergeStatisticsFiles, type StatisticsFile, type StatisticsShard } from '../fid/statistics-file.js';

const pad = (k: number) => String(k).padStart(5, '0');

/** stats-00002-of-00008.npz (the name @fae/pipeline's statistics shards use too). */
export const statisticsShardName = (s: ShardSpec) => `stats-${pad(s.index)}-of-${pad(s.count)}.npz`;

/** A 31-bit FNV-1a hash of the options every shard must share (JSON, keys in the given order). */
export function optionsHash(options: Record<string, unknown>): number {
  let h = 0x811c9dc5;
  for (const c of JSON.stringify(options)) {
    h ^= c.charCodeAt(0);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 1;
}

/** The shard entry of a finished shard file at `path`, or null when there is none. */
export async function finishedShard(path: string): Promise<StatisticsShard | null> {
  const { access } = await import('node:fs/promises');
  try {
    await access(path);
  } catch {
    return null;
  }
  return (await loadStatisticsFile(path)).shard ?? null;
}

/** Merges every stats-i-of-n.npz of `dir` (refusing incomplete, mixed or mismatched sets). */
export async function mergeStatisticsShardFolder(dir: string): Promise<{ merged: StatisticsFile; shards: number; total: number }> {
  const { readdir } = await import('node:fs/promises');
  const { join } = await import('node:path');
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    throw new ConfigError(dir, 'no such folder of statistics shards');
  }
  const found = names.filter((f) => /^stats-\d+-of-\d+\.npz$/.test(f)).sort();
  if (!found.length) throw new ConfigError(dir, 'holds no finished statistics shards (stats-i-of-n.npz)');
  const heads: Array<{ file: string; shard: StatisticsShard }> = [];
  for (const f of found) {
    const s = (await loadStatisticsFile(join(dir, f))).shard; // read again below, one at a time
    if (!s) throw new ConfigError(join(dir, f), "has no 'shard' entry (not written by fae-eval stats --shard)");
    heads.push({ file: f, shard: s });
  }
  const first = heads[0].shard;
  for (const { file, shard: s } of heads) {
    if (s.count !== first.count) throw new ConfigError(dir, `shards of different splits: ${heads[0].file} is of ${first.count}, ${file} of ${s.count} (clear the folder of the old run)`);
    if (s.options !== first.options || s.total !== first.total) throw new ConfigError(dir, `${file} was made with other options or images than ${heads[0].file}`);
  }
  const missing = Array.from({ length: first.count }, (_, i) => i).filter((i) => !heads.some((h) => h.shard.index === i));
  if (missing.length) throw new ConfigError(dir, `incomplete: ${missing.length} of ${first.count} shards are not finished (indices ${missing.slice(0, 20).join(', ')}${missing.length > 20 ? ', ...' : ''}); rerun them with --shard i/${first.count}`);
  heads.sort((a, b) => a.shard.index - b.shard.index);
  let at = 0;
  for (const h of heads) {
    if (h.shard.start !== at) throw new ConfigError(dir, `${h.file} covers images [${h.shard.start}, ${h.shard.end}) but the previous shard ended at ${at}`);
    at = h.shard.end;
  }
  if (at !== first.total) throw new ConfigError(dir, `the shards cover ${at} of ${first.total} images`);
  let merged: StatisticsFile | null = null;
  for (const h of heads) {
    const part = await loadStatisticsFile(join(dir, h.file));
    if (part.pool.count !== h.shard.end - h.shard.start) throw new ConfigError(join(dir, h.file), `holds ${part.pool.count} images, its shard entry says ${h.shard.end - h.shard.start}`);
    merged = merged ? mergeStatisticsFiles([merged, part]) : { ...part, shard: undefined };
  }
  return { merged: merged!, shards: heads.length, total: first.total };
}

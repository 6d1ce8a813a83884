// Splitting per-item work (sampling, caching, evaluation statistics) over processes, GPUs or cluster
// tasks: the `--shard i/n | auto` syntax and the contiguous block of items each shard takes. Shared by
// @fae/pipeline's shards and @fae/eval's CLI; the shard files and their merges live there.
import { ConfigError } from './errors.js';

export interface ShardSpec {
  index: number;
  count: number;
}

/**
 * `i/n` (0-based), or `auto` / `auto/n`: the index from JOB_COMPLETION_INDEX (Kubernetes Indexed Job),
 * SLURM_ARRAY_TASK_ID (minus SLURM_ARRAY_TASK_MIN) or FAE_SHARD_INDEX; the count from `/n`,
 * FAE_SHARD_COUNT or SLURM_ARRAY_TASK_COUNT.
 */
export function parseShard(spec: string, env: Record<string, string | undefined> = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {}): ShardSpec {
  const bad = (why: string) => new ConfigError('--shard', `${why} (expected i/n with 0 <= i < n, or auto, or auto/n; got '${spec}')`);
  const int = (s: string | undefined, what: string) => {
    if (s === undefined || !/^\d+$/.test(s.trim())) throw bad(`${what} is not a non-negative integer: '${s}'`);
    return Number(s);
  };
  const m = /^\s*(auto|\d+)\s*(?:\/\s*(\d+))?\s*$/.exec(spec);
  if (!m) throw bad('unreadable');
  let index: number;
  let count: number | undefined = m[2] === undefined ? undefined : int(m[2], 'n');
  if (m[1] === 'auto') {
    if (env.JOB_COMPLETION_INDEX !== undefined) index = int(env.JOB_COMPLETION_INDEX, 'JOB_COMPLETION_INDEX');
    else if (env.SLURM_ARRAY_TASK_ID !== undefined) index = int(env.SLURM_ARRAY_TASK_ID, 'SLURM_ARRAY_TASK_ID') - (env.SLURM_ARRAY_TASK_MIN ? int(env.SLURM_ARRAY_TASK_MIN, 'SLURM_ARRAY_TASK_MIN') : 0);
    else if (env.FAE_SHARD_INDEX !== undefined) index = int(env.FAE_SHARD_INDEX, 'FAE_SHARD_INDEX');
    else throw bad('auto needs JOB_COMPLETION_INDEX, SLURM_ARRAY_TASK_ID or FAE_SHARD_INDEX in the environment');
    count ??= env.FAE_SHARD_COUNT !== undefined ? int(env.FAE_SHARD_COUNT, 'FAE_SHARD_COUNT') : env.SLURM_ARRAY_TASK_COUNT !== undefined ? int(env.SLURM_ARRAY_TASK_COUNT, 'SLURM_ARRAY_TASK_COUNT') : undefined;
    if (count === undefined) throw bad('auto needs the shard count: auto/n, FAE_SHARD_COUNT or SLURM_ARRAY_TASK_COUNT');
  } else {
    index = int(m[1], 'i');
    if (count === undefined) throw bad('missing /n');
  }
  checkShard({ index, count });
  return { index, count };
}

function checkShard(s: ShardSpec): void {
  if (!Number.isInteger(s.count) || s.count < 1 || !Number.isInteger(s.index) || s.index < 0 || s.index >= s.count) {
    throw new ConfigError('shard', `expected shard index in 0..count-1 and count >= 1, got ${s.index} of ${s.count}`);
  }
}

/** Items [start, end) of shard i of n: contiguous blocks of whole `align`-item units, sizes differing by at most one unit. */
export function shardRange(total: number, s: ShardSpec, align = 1): [number, number] {
  checkShard(s);
  if (!Number.isInteger(total) || total < 0) throw new ConfigError('shardRange', `total must be a non-negative integer, got ${total}`);
  if (!Number.isInteger(align) || align < 1) throw new ConfigError('shardRange', `align must be a positive integer, got ${align}`);
  const units = Math.ceil(total / align);
  const a = Math.floor((s.index * units) / s.count);
  const b = Math.floor(((s.index + 1) * units) / s.count);
  return [Math.min(a * align, total), Math.min(b * align, total)];
}


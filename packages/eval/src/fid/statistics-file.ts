// Statistics files (.npz) in the ADM reference-batch layout: `mu`, `sigma` (pool3, float64) and
// `mu_s`, `sigma_s` (sFID spatial features), so an ADM `VIRTUAL_*.npz` loads (its `arr_0` images are
// never read), and our files load in the ADM evaluator. We add `n` / `n_s` (sample counts, int64),
// which make saved shards mergeable, and optionally `act` (pool3 features, float32 [N, 2048]) for
// precision/recall against the file.
import { ConfigError, WeightsFormatError, openFileSource, openZip, readNpy, writeFileAtomic, writeNpz, type NpyInput, type TypedArray } from '@fae/core';
import { FeatureStatistics } from './statistics.js';
import type { GaussianStats } from './frechet.js';

export interface SavedStats extends GaussianStats {
  /** Number of samples (absent in ADM reference files). */
  count?: number;
}

export interface StatisticsFile {
  /** pool3 (FID) statistics */
  pool: SavedStats;
  /** spatial (sFID) statistics */
  spatial?: SavedStats;
  /** pool3 features [rows, dim] for precision / recall */
  activations?: { data: Float32Array; rows: number; dim: number };
  /** A shard's statistics (`fae-eval stats --shard i/n`): which items of the whole set they cover. */
  shard?: StatisticsShard;
}

/** Saved as `shard` (int64 [6]): index, count, start, end, total, options (a hash of what every shard must share). */
export interface StatisticsShard {
  index: number;
  count: number;
  /** Items [start, end) of `total`. */
  start: number;
  end: number;
  total: number;
  options: number;
}

const toF64 = (a: TypedArray): Float64Array => (a instanceof Float64Array ? a : Float64Array.from(a as ArrayLike<number>));

/** Saved statistics as a mergeable accumulator (needs the sample count). */
export function accumulatorFrom(s: SavedStats, what = 'statistics'): FeatureStatistics {
  if (s.count === undefined) throw new ConfigError(what, 'has no sample count (n), so it cannot be merged (ADM reference files carry only mu/sigma)');
  return FeatureStatistics.fromGaussian(s, s.count);
}

function statsEntries(s: SavedStats, suffix: string): Array<[string, NpyInput]> {
  const D = s.mu.length;
  const out: Array<[string, NpyInput]> = [
    [`mu${suffix}`, { dtype: 'F64', shape: [D], data: s.mu }],
    [`sigma${suffix}`, { dtype: 'F64', shape: [D, D], data: s.sigma }],
  ];
  if (s.count !== undefined) out.push([`n${suffix}`, { dtype: 'I64', shape: [], data: BigInt64Array.of(BigInt(s.count)) }]);
  return out;
}

/** Encodes statistics as .npz bytes (np.load / the ADM evaluator read them). */
export function encodeStatisticsNpz(file: StatisticsFile): Uint8Array {
  const entries: Array<[string, NpyInput]> = [...statsEntries(file.pool, '')];
  if (file.spatial) entries.push(...statsEntries(file.spatial, '_s'));
  if (file.activations) entries.push(['act', { dtype: 'F32', shape: [file.activations.rows, file.activations.dim], data: file.activations.data }]);
  const sh = file.shard;
  if (sh) entries.push(['shard', { dtype: 'I64', shape: [6], data: BigInt64Array.from([sh.index, sh.count, sh.start, sh.end, sh.total, sh.options], BigInt) }]);
  return writeNpz(new Map(entries));
}

/** Writes statistics to `path` atomically (Node). */
export async function saveStatisticsFile(path: string, file: StatisticsFile): Promise<void> {
  await writeFileAtomic(path, [encodeStatisticsNpz(file)]);
}

/** Reads statistics from .npz bytes or a local path (only the mu/sigma/n/act entries are read). */
export async function loadStatisticsFile(input: string | Uint8Array): Promise<StatisticsFile> {
  const source = typeof input === 'string' ? input : 'statistics npz';
  const src = typeof input === 'string' ? await openFileSource(input) : input;
  const zip = await openZip(src, source);
  try {
    const get = async (name: string) => (zip.has(`${name}.npy`) ? readNpy(await zip.read(`${name}.npy`), `${source} (${name})`) : null);
    const read = async (suffix: string): Promise<SavedStats | undefined> => {
      const mu = await get(`mu${suffix}`);
      const sigma = await get(`sigma${suffix}`);
      if (!mu && !sigma) return undefined;
      if (!mu || !sigma) throw new WeightsFormatError(source, `has ${mu ? 'mu' : 'sigma'}${suffix} without ${mu ? 'sigma' : 'mu'}${suffix}`);
      const D = mu.data.length;
      if (mu.shape.length !== 1 || sigma.shape.join() !== `${D},${D}`) throw new WeightsFormatError(source, `mu${suffix} [${mu.shape}] and sigma${suffix} [${sigma.shape}] are not [D] and [D, D]`);
      const n = await get(`n${suffix}`);
      return { mu: toF64(mu.data), sigma: toF64(sigma.data), count: n ? Number(n.data[0]) : undefined };
    };
    const pool = await read('');
    if (!pool) throw new WeightsFormatError(source, `has no 'mu'/'sigma' arrays (entries: ${zip.names().join(', ')})`);
    const spatial = await read('_s');
    const act = await get('act');
    const activations = act ? { data: Float32Array.from(act.data as ArrayLike<number>), rows: act.shape[0], dim: act.shape[1] } : undefined;
    const sh = await get('shard');
    let shard: StatisticsShard | undefined;
    if (sh) {
      if (sh.shape.join() !== '6') throw new WeightsFormatError(source, `'shard' must be int64 [6] (index, count, start, end, total, options), found [${sh.shape}]`);
      const [index, count, start, end, total, options] = Array.from(sh.data as ArrayLike<number | bigint>, Number);
      shard = { index, count, start, end, total, options };
    }
    return { pool, spatial, activations, shard };
  } finally {
    await zip.close();
  }
}

/** Merges saved partial statistics (each needs its sample count) into one file's worth. */
export function mergeStatisticsFiles(parts: readonly StatisticsFile[]): StatisticsFile {
  if (!parts.length) throw new ConfigError('mergeStatisticsFiles', 'nothing to merge');
  const pool = FeatureStatistics.mergeAll(parts.map((p, i) => accumulatorFrom(p.pool, `part ${i} (pool)`)));
  const hasSpatial = parts.every((p) => p.spatial);
  const spatial = hasSpatial ? FeatureStatistics.mergeAll(parts.map((p, i) => accumulatorFrom(p.spatial!, `part ${i} (spatial)`))) : null;
  const acts = parts.every((p) => p.activations) ? parts.map((p) => p.activations!) : null;
  let activations: StatisticsFile['activations'];
  if (acts) {
    const rows = acts.reduce((s, a) => s + a.rows, 0);
    const data = new Float32Array(rows * acts[0].dim);
    let o = 0;
    for (const a of acts) {
      data.set(a.data, o);
      o += a.data.length;
    }
    activations = { data, rows, dim: acts[0].dim };
  }
  return {
    pool: { ...pool.toGaussian(), count: pool.count },
    spatial: spatial ? { ...spatial.toGaussian(), count: spatial.count } : undefined,
    activations,
  };
}

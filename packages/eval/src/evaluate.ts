// Putting the metrics together: an accumulator that runs batches of images through the FID
// Inception and keeps only what the metrics need (float64 pool3 / spatial statistics, logits for IS,
// optionally pool3 rows for precision/recall), and evaluate functions that compare against
// reference statistics. Shardable: save each shard's statistics, merge them, compute FID once.
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '@fae/core';
import { FeatureStatistics } from './fid/statistics.js';
import { frechetDistanceDetails } from './fid/frechet.js';
import type { StatisticsFile } from './fid/statistics-file.js';
import { FidInceptionV3, type InceptionFeature, type InceptionFeatures } from './inception/inception-v3.js';
import { inceptionScore } from './metrics/inception-score.js';
import { precisionRecall, type FeatureMatrix } from './metrics/precision-recall.js';
import type { ImageSource } from './cli/image-batches.js';
import { openWeights, type WeightsSourceOptions } from './weights-source.js';

export interface AccumulatorOptions {
  /** Accumulate sFID's spatial statistics (default true). */
  spatial?: boolean;
  /** Keep logits_unbiased for the Inception Score (default true). */
  logits?: boolean;
  /** Keep pool3 rows for precision/recall (default false; 50k x 2048 float32 = 400 MB). */
  keepFeatures?: boolean;
  /**
   * Where the per-batch covariance products run: 'float64' (default, exact, plain JS: ~150-300
   * rows/s at 2048-d on one core) or 'backend' (float32 matMul on the tfjs backend, folded into
   * float64 totals; see FeatureStatistics.addTensor).
   */
  gram?: 'float64' | 'backend';
}

/** What the accumulator needs of a network: FidInceptionV3, or any extractor with the same feature names. */
export interface FeatureExtractor {
  features(images: tf.Tensor, names: readonly InceptionFeature[]): InceptionFeatures;
}

export class InceptionAccumulator {
  /** pool3 statistics (created at the first batch, sized by the extractor's output). */
  pool: FeatureStatistics | null = null;
  spatial: FeatureStatistics | null = null;
  private readonly logitRows: Float32Array[] = [];
  private readonly poolRows: Float32Array[] = [];
  private logitDim = 0;
  count = 0;
  constructor(readonly model: FeatureExtractor, readonly opts: AccumulatorOptions = {}) {}

  /** images: [B, H, W, 3] pixels 0..255 (int32 or float32); not disposed. */
  async add(images: tf.Tensor): Promise<void> {
    const names: InceptionFeature[] = ['2048'];
    if (this.opts.spatial ?? true) names.push('spatial');
    if (this.opts.logits ?? true) names.push('logits_unbiased');
    const f = this.model.features(images, names);
    try {
      const B = images.shape[0]!;
      const gram = this.opts.gram ?? 'float64';
      this.pool ??= new FeatureStatistics(f['2048']!.shape[1]);
      await this.pool.addTensor(f['2048']!, { gram });
      if (this.opts.keepFeatures) this.poolRows.push((await f['2048']!.data()) as Float32Array);
      if (f.spatial) {
        this.spatial ??= new FeatureStatistics(f.spatial.shape[1]);
        await this.spatial.addTensor(f.spatial, { gram });
      }
      if (f.logits_unbiased) {
        this.logitDim = f.logits_unbiased.shape[1];
        this.logitRows.push((await f.logits_unbiased.data()) as Float32Array);
      }
      this.count += B;
    } finally {
      tf.dispose(Object.values(f));
    }
  }

  /** Mean / covariance (and counts, features when kept) in the statistics-file layout. */
  statistics(): StatisticsFile {
    if (!this.pool) throw new ConfigError('InceptionAccumulator', 'no images were added');
    const out: StatisticsFile = { pool: { ...this.pool.toGaussian(), count: this.pool.count } };
    if (this.spatial) out.spatial = { ...this.spatial.toGaussian(), count: this.spatial.count };
    if (this.opts.keepFeatures) out.activations = this.features();
    return out;
  }

  /** Kept pool3 rows as one matrix. */
  features(): FeatureMatrix & { data: Float32Array } {
    if (!this.opts.keepFeatures) throw new ConfigError('InceptionAccumulator', 'features were not kept (keepFeatures: true)');
    return concatRows(this.poolRows, this.pool?.dim ?? 0);
  }

  /** torch-fidelity's Inception Score of the logits seen (10 splits, no shuffle; fewer splits if fewer images). */
  inceptionScore(splits = 10): { mean: number; std: number } {
    if (!this.logitRows.length) throw new ConfigError('InceptionAccumulator', 'logits were not kept (logits: true)');
    const { data } = concatRows(this.logitRows, this.logitDim);
    const r = inceptionScore(data, this.logitDim, { splits: Math.min(splits, this.count) });
    return { mean: r.mean, std: r.std };
  }
}

function concatRows(parts: Float32Array[], dim: number): { data: Float32Array; rows: number; dim: number } {
  const rows = parts.reduce((s, p) => s + p.length / dim, 0);
  const data = new Float32Array(rows * dim);
  let o = 0;
  for (const p of parts) {
    data.set(p, o);
    o += p.length;
  }
  return { data, rows, dim };
}

export interface EvalProgress {
  done: number;
  total: number;
  imagesPerSecond: number;
}

export interface EvaluateOptions {
  batchSize?: number;
  /** Reference statistics for FID / sFID (and precision/recall when it holds activations). */
  reference?: StatisticsFile;
  /** Reference pool3 features for precision/recall (overrides reference.activations). */
  referenceFeatures?: FeatureMatrix;
  isSplits?: number;
  prK?: number;
  spatial?: boolean;
  /** Keep the samples' pool3 rows (needed for precision/recall; default: when reference features exist). */
  keepFeatures?: boolean;
  /** See AccumulatorOptions.gram. */
  gram?: 'float64' | 'backend';
  onProgress?: (p: EvalProgress) => void;
}

export interface EvalReport {
  count: number;
  fid?: number;
  sfid?: number;
  inception_score?: number;
  inception_score_std?: number;
  precision?: number;
  recall?: number;
  seconds: number;
  images_per_second: number;
  backend: string;
  fid_ms?: number;
}

/** Feeds every batch of `source` to `acc` (disposing it), reporting progress; returns the seconds taken. */
async function accumulate(acc: InceptionAccumulator, source: ImageSource, batchSize: number, onProgress?: (p: EvalProgress) => void): Promise<number> {
  const t0 = performance.now();
  for await (const batch of source.batches(batchSize)) {
    try {
      await acc.add(batch.images);
    } finally {
      batch.images.dispose();
    }
    onProgress?.({ done: acc.count, total: source.count, imagesPerSecond: acc.count / ((performance.now() - t0) / 1000) });
  }
  return (performance.now() - t0) / 1000;
}

/** Runs every image of `source` through the Inception and reports the metrics (JSON-friendly). */
export async function evaluateImages(model: FeatureExtractor, source: ImageSource, opts: EvaluateOptions = {}): Promise<{ report: EvalReport; statistics: StatisticsFile }> {
  const refFeatures = opts.referenceFeatures ?? opts.reference?.activations;
  const acc = new InceptionAccumulator(model, { spatial: opts.spatial ?? true, logits: true, keepFeatures: opts.keepFeatures ?? !!refFeatures, gram: opts.gram });
  const seconds = await accumulate(acc, source, opts.batchSize ?? 16, opts.onProgress);
  const statistics = acc.statistics();
  const report: EvalReport = { count: acc.count, seconds, images_per_second: acc.count / seconds, backend: tf.getBackend() };
  const is = acc.inceptionScore(opts.isSplits ?? 10);
  report.inception_score = is.mean;
  report.inception_score_std = is.std;
  if (opts.reference) {
    const d = frechetDistanceDetails(statistics.pool, opts.reference.pool);
    report.fid = d.distance;
    report.fid_ms = d.ms;
    if (statistics.spatial && opts.reference.spatial) report.sfid = frechetDistanceDetails(statistics.spatial, opts.reference.spatial).distance;
  }
  if (refFeatures) {
    const pr = await precisionRecall(refFeatures, acc.features(), { k: opts.prK ?? 3 });
    report.precision = pr.precision;
    report.recall = pr.recall;
  }
  return { report, statistics };
}

/** Statistics of an image set only (a reference set, or one shard of samples). */
export async function computeStatistics(model: FeatureExtractor, source: ImageSource, opts: { batchSize?: number; spatial?: boolean; keepFeatures?: boolean; gram?: 'float64' | 'backend'; onProgress?: (p: EvalProgress) => void } = {}): Promise<StatisticsFile> {
  const acc = new InceptionAccumulator(model, { spatial: opts.spatial ?? true, logits: false, keepFeatures: opts.keepFeatures, gram: opts.gram });
  await accumulate(acc, source, opts.batchSize ?? 16, opts.onProgress);
  return acc.statistics();
}

/** Loads the FID Inception from a weights source (path / URL / hub location / bytes). */
export async function loadFidInception(source: string | Uint8Array, opts: WeightsSourceOptions = {}): Promise<FidInceptionV3> {
  const model = new FidInceptionV3();
  try {
    const store = await openWeights(source, { defaultFile: 'model.safetensors', probeKey: 'Conv2d_1a_3x3.conv.weight', ...opts });
    try {
      await model.loadWeights(store);
    } finally {
      await store.close?.();
    }
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}

/**
 * Reconstruction FID (rFID) bookkeeping: originals and reconstructions go through the same Inception;
 * FID is computed between the two sets' statistics.
 */
export class ReconstructionFid {
  readonly originals: InceptionAccumulator;
  readonly reconstructions: InceptionAccumulator;
  constructor(model: FeatureExtractor, opts: { spatial?: boolean } = {}) {
    this.originals = new InceptionAccumulator(model, { spatial: opts.spatial ?? false, logits: false });
    this.reconstructions = new InceptionAccumulator(model, { spatial: opts.spatial ?? false, logits: false });
  }
  /** Both [B, H, W, 3] in 0..255; not disposed. */
  async add(originals: tf.Tensor, reconstructions: tf.Tensor): Promise<void> {
    await this.originals.add(originals);
    await this.reconstructions.add(reconstructions);
  }
  rfid(): number {
    return frechetDistanceDetails(this.reconstructions.statistics().pool, this.originals.statistics().pool).distance;
  }
}
